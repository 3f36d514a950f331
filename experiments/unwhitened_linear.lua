-- unwhitened_linear.lua: the paper's Figure C.1. A two-layer linear net f(x) = a^T W x trained
-- by gradient flow (rk45) from small init on anisotropic Gaussian inputs (data.teacher with
-- covariance eigenvalues k^-alpha, NOT whitened), against ntklab.theory's unwhitened_* formulas.
-- The input-space NTK is M = W^T W + |a|^2 I (K(x, x') = x^T M x'). Two alignment phases:
--   phase I: M's top eigenvector turns to Sigma beta (the early spike of Eq. C.3), not to beta;
--   phase II: W^T a grows to the minimum-norm interpolator X^+ y and M realigns to it.
-- Here beta is the unit vector of the min-norm interpolator beta* = X^+ y and s = |beta*| (on the
-- data, y = s beta . x). The end of phase I is the first record where |a|^2 >= 1e-2 s.
-- Level curves of beta^T M^-1 beta (the RKHS norm of f = beta . x) are kept at t = 0, at the end of
-- phase I and at the end, in a plane: the coordinate plane when D = 2, else the plane of beta and
-- Sigma beta (orthonormal e1 = beta, e2 = the part of Sigma beta orthogonal to beta).
-- experiments/phase_portrait.lua (Figure 2) runs the same simulation with D = 2, P = 1.
-- Run: build/bin/ntklab run experiments/unwhitened_linear.lua [--option value ...]
-- Writes trajectory.csv (t, loss, |a|^2 and its early theory, cosines of M's top eigenvector with
-- Sigma beta and beta and the theory's, the path of W^T a in the plane), kernels.csv (the 2 x 2
-- matrix G = E^T M^-1 E in the plane's basis E at the three snapshots), data.csv (the training
-- points in the plane), plane.csv (X^+ y in the plane), summary.json, and fig_c1.png through experiments/figures/unwhitened_linear.lua.
local ntklab = require "ntklab"
local data = require "ntklab.data"
local theory = ntklab.theory

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."

-- |a|^2 = PHASE_I_FRAC * s ends phase I: the early theory's dropped terms are then ~1% (spec 70).
local PHASE_I_FRAC = 1e-2
-- The early theory is drawn while |a|^2 < EARLY_FRAC * s (beyond it the cubic terms matter).
local EARLY_FRAC = 0.1

local experiment = {
  name = "unwhitened_linear",
  summary = "Two-layer linear net on unwhitened data (paper Figure C.1): the kernel first spikes "
    .. "along Sigma beta, then realigns to the minimum-norm interpolator; simulation against theory.",
  options = {
    {name = "P", type = "integer", default = 6, min = 1, max = 100000, help = "training set size"},
    {name = "D", type = "integer", default = 10, min = 2, max = 2000, help = "input dimension"},
    {name = "N", type = "integer", default = 10, min = 1, max = 2000, help = "hidden width"},
    {name = "alpha", type = "number", default = 1, min = 0, max = 10,
      help = "input covariance eigenvalues k^-alpha"},
    {name = "s", type = "number", default = 1, min = 0, help = "teacher scale"},
    {name = "sigma", type = "number", default = 1e-3, min = 0, help = "initialization scale"},
    {name = "t_max", type = "number", default = 400, min = 0, help = "training time"},
    {name = "records", type = "integer", default = 300, min = 10, max = 100000,
      help = "log-spaced record times from 1e-2 to t_max"},
    {name = "rtol", type = "number", default = 1e-10, min = 0, help = "rk45 relative tolerance"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data and the init"},
    {name = "plots", type = "boolean", default = true, help = "draw the figure"},
  },
  columns = {"phase_I.t", "phase_I.cos_sigma_beta", "phase_I.cos_beta", "final.cos_beta",
    "final.rel_dist_min_norm", "early.max_rel_err_a2"},
}

local function dot(x, y) local s = 0; for i = 1, #x do s = s + x[i] * y[i] end; return s end
local function unit(v)
  local n = math.sqrt(dot(v, v))
  local u = {}
  for i = 1, #v do u[i] = v[i] / n end
  return u, n
end

-- Top eigenvector (unit, sign free) of a symmetric D x D array of rows, through LAPACK.
local function top_eigvec(Mx)
  local _, V = ntklab.linalg.eigh(ntklab.tensor(Mx))
  local D = #Mx
  local v = {}
  for i = 1, D do v[i] = V:get(i, D) end
  return v
end

local function inverse2(E, Mx)
  -- G = E^T M^-1 E for the D x 2 basis E: solve M Z = E (LAPACK), then E^T Z
  local Z = ntklab.linalg.solve(ntklab.tensor(Mx), ntklab.tensor(E))
  local G = {{0, 0}, {0, 0}}
  for i = 1, 2 do
    for j = 1, 2 do
      local s = 0
      for k = 1, #Mx do s = s + E[k][i] * Z:get(k, j) end
      G[i][j] = s
    end
  end
  -- symmetrize the rounding
  local off = (G[1][2] + G[2][1]) / 2
  G[1][2], G[2][1] = off, off
  return G
end

--- The simulation behind Figures C.1 and 2: returns the summary and the tables it writes
-- (trajectory, kernels, points) without writing; phase_portrait.lua calls it with D = 2, P = 1.
function experiment.simulate(opts, ctx)
  local die = ctx.fail
  local P, D, N, alpha = opts.P, opts.D, opts.N, opts.alpha
  local ds, err = data.teacher{P = P, D = D, s = opts.s, seed = opts.seed,
    spectrum = function(k) return k ^ -alpha end}
  if not ds then die(err) end
  local X, y = ds.X_train:totable(), ds.y_train:totable()
  local bstar, merr = theory.min_norm_interpolator(X, y)
  if not bstar then die(merr) end
  local beta, s = unit(bstar)
  local Sigma = (ntklab.tensor(X):t():gram() / P):totable() -- the inputs' covariance X^T X / P
  local A, b, sb = theory.unwhitened_constants(Sigma, beta)
  local e_spike = theory.unwhitened_spike(Sigma, beta)
  -- the drawing plane
  local E, plane
  if D == 2 then
    E, plane = {{1, 0}, {0, 1}}, "coordinates x1, x2"
  else
    local perp = {}
    for i = 1, D do perp[i] = sb[i] - dot(sb, beta) * beta[i] end
    local e2, n2 = unit(perp)
    if not (n2 > 1e-12 * math.sqrt(b)) then die("Sigma beta is parallel to beta: no plane to draw") end
    E = {}
    for i = 1, D do E[i] = {beta[i], e2[i]} end
    plane = "e1 = beta, e2 = Sigma beta orthogonalized"
  end
  local E1, E2 = {}, {}
  for i = 1, D do E1[i], E2[i] = E[i][1], E[i][2] end

  local net = ntklab.mlp{widths = {D, N, 1}, activation = "linear", sigma = opts.sigma, seed = opts.seed}
  local function weights(nt)
    return nt:weight(2):reshape(N):totable(), nt:weight(1):totable()
  end
  local a0, W0 = weights(net)
  local r0 = theory.unwhitened_overlaps(a0, W0, Sigma, beta)
  -- the kernel M = W^T W + |a|^2 I of f(x) = a^T W x, and |a|^2
  local function ntk_matrix(a, W)
    local a2 = dot(a, a)
    local Mx = ntklab.tensor(W):t():gram()
    Mx:diagonal():add_(a2)
    return Mx:totable(), a2
  end
  local M0 = ntk_matrix(a0, W0)

  local times = {}
  for i = 0, opts.records - 1 do times[#times + 1] = 1e-2 * (opts.t_max / 1e-2) ^ (i / (opts.records - 1)) end
  local cols = {"t", "loss", "a2", "a2_theory", "cos_sigma_beta", "cos_beta", "cos_sigma_beta_theory",
    "path1", "path2"}
  local traj = {}
  for _, c in ipairs(cols) do traj[c] = {} end
  local snapshots = {}
  local function snapshot(label, t, Mx)
    snapshots[#snapshots + 1] = {label = label, t = t, G = inverse2(E, Mx)}
  end
  local phase_I, max_early_err = nil, 0
  local function record(t, loss, nt)
    local a, W = weights(nt)
    local Mx, a2 = ntk_matrix(a, W)
    local v = top_eigvec(Mx)
    local bt = {}
    for j = 1, D do
      local acc = 0
      for k = 1, N do acc = acc + W[k][j] * a[k] end
      bt[j] = acc
    end
    local a2_th, cos_th = 0 / 0, 0 / 0
    local rt = theory.unwhitened_early(t, s, A, b, r0)
    if rt[2] < EARLY_FRAC * s then
      a2_th = rt[2]
      -- the predicted kernel M0 + (|a(t)|^2 - |a0|^2) (e e^T + I) (Eq. C.3, counting from M0, so
      -- that it is M0 at t = 0) and its top eigenvector
      local grow = a2_th - r0[2]
      local Mp = {}
      for i = 1, D do
        Mp[i] = {}
        for j = 1, D do Mp[i][j] = M0[i][j] + grow * (e_spike[i] * e_spike[j] + (i == j and 1 or 0)) end
      end
      cos_th = math.abs(dot(top_eigvec(Mp), e_spike))
      if rt[2] < 1e-3 * s then max_early_err = math.max(max_early_err, math.abs(a2 - a2_th) / a2) end
    end
    local row = {t = t, loss = loss, a2 = a2, a2_theory = a2_th, cos_sigma_beta = math.abs(dot(v, e_spike)),
      cos_beta = math.abs(dot(v, beta)), cos_sigma_beta_theory = cos_th,
      path1 = dot(bt, E1),
      path2 = dot(bt, E2)}
    for _, c in ipairs(cols) do traj[c][#traj[c] + 1] = row[c] end
    if t == 0 then snapshot("initialization", t, Mx) end
    if not phase_I and a2 >= PHASE_I_FRAC * s then
      phase_I = {t = t, cos_sigma_beta = row.cos_sigma_beta, cos_beta = row.cos_beta, a2 = a2}
      snapshot("end of phase I", t, Mx)
    end
    return row, bt, Mx
  end
  local X_t, y_t = ds.X_train, ds.y_train
  local f0 = net:forward(X_t):reshape(P)
  local d0 = f0 - y_t
  record(0, (d0 * d0):sum() / (2 * P), net)
  local flow = ntklab.train.flow{method = "rk45", rtol = opts.rtol, atol = opts.rtol * opts.sigma ^ 2}
  local progress = ctx.progress{total = #times}
  local last_row, last_bt, last_M
  local loss, ferr = flow:run(net, X_t, y_t, {t = opts.t_max, observe = times, observer = function(t, _, l, nt)
    last_row, last_bt, last_M = record(t, l, nt)
    progress:update(#traj.t - 1, {t = t, loss = l})
  end})
  progress:finish()
  if loss == nil then die(ferr) end
  if loss ~= loss or math.abs(loss) == math.huge then die("training diverged: loss " .. tostring(loss)) end
  if not phase_I then die(string.format("|a|^2 never reached %g s by t = %g: raise --t_max", PHASE_I_FRAC, opts.t_max)) end
  snapshot("end", opts.t_max, last_M)
  local diff, nb = 0, 0
  for j = 1, D do diff, nb = diff + (last_bt[j] - bstar[j]) ^ 2, nb + bstar[j] ^ 2 end

  -- the training points in the plane (for Figure 2's interpolating line with P = 1)
  local points = {}
  for k = 1, P do
    points[k] = {dot(X[k], E1), dot(X[k], E2), y[k]}
  end
  local bstar_plane = {dot(bstar, E1), dot(bstar, E2)}

  local summary = {
    data = {P = P, D = D, N = N, spectrum = string.format("k^-%g", alpha), s = s, A = A, b = b,
      plane = plane, seed = opts.seed, source = "ntklab.data.teacher (Gaussian inputs, not whitened)"},
    theory = {eigenvalues = theory.unwhitened_eigenvalues(b), r0 = r0,
      phase_I_end = string.format("|a|^2 >= %g s", PHASE_I_FRAC)},
    early = {max_rel_err_a2 = max_early_err,
      note = "|a|^2 simulated vs theory.unwhitened_early while |a|^2 < 1e-3 s"},
    phase_I = phase_I,
    final = {t = opts.t_max, loss = loss, cos_beta = last_row.cos_beta, cos_sigma_beta = last_row.cos_sigma_beta,
      rel_dist_min_norm = math.sqrt(diff / nb), min_norm_plane = bstar_plane},
    snapshots = snapshots,
  }
  return summary, {columns = cols, trajectory = traj, points = points}
end

-- Writes the tables and the figure (figure = the figure script's draw function).
function experiment.write(ctx, summary, tables, draw, figure_name, opts)
  ctx.write_csv("trajectory.csv", tables.columns, tables.trajectory)
  local rows = {}
  for _, sn in ipairs(summary.snapshots) do
    rows[#rows + 1] = {sn.label, sn.t, sn.G[1][1], sn.G[1][2], sn.G[2][2]}
  end
  ctx.write_csv("kernels.csv", {"label", "t", "g11", "g12", "g22"}, rows)
  ctx.write_csv("data.csv", {"x1", "x2", "y"}, tables.points)
  ctx.write_csv("plane.csv", {"what", "c1", "c2"}, {{"min_norm", summary.final.min_norm_plane[1],
    summary.final.min_norm_plane[2]}})
  if opts.plots then
    ctx.add_plot(figure_name, draw(ctx.out, ctx.path(figure_name)))
  end
end

function experiment.run(opts, ctx)
  local summary, tables = experiment.simulate(opts, ctx)
  summary.experiment = "unwhitened_linear"
  summary.config = opts
  local fig = dofile(here .. "/figures/unwhitened_linear.lua")
  experiment.write(ctx, summary, tables, fig.draw, "fig_c1.png", opts)
  return summary
end

function experiment.verdict(s)
  local ok = s.phase_I.cos_sigma_beta >= 0.99 and s.final.rel_dist_min_norm < 1e-3
  return ok and "two alignment phases" or "not as the theory says",
    string.format("end of phase I (t = %.3g): cos(top eigvec, Sigma beta) = %.4f, cos(.., beta) = %.4f; "
      .. "end: cos(.., beta) = %.4f, |W^T a - X^+ y| / |X^+ y| = %.2e", s.phase_I.t, s.phase_I.cos_sigma_beta,
      s.phase_I.cos_beta, s.final.cos_beta, s.final.rel_dist_min_norm)
end

return experiment
