-- transfer.lua: the paper's Figure F.1, transfer with a learned kernel. Kernel ridge regression
-- with K(x, x') = x^T [A beta beta^T + I] x' on x ~ N(0, I_D) and a new unit task
-- y = w.x, w = alpha beta + sqrt(1 - alpha^2) w_perp (w_perp a unit vector orthogonal to beta,
-- drawn afresh for each training set), against the learning curve of Eq. 67
-- (ntklab.theory.transfer_error), mean test error |w_hat - w|^2 over `trials` training sets
-- with its standard error:
--   panel a: alpha fixed (--alpha_a), A over --As, against P;
--   panel b: A fixed (--A_b), alpha over --alphas, against P;
--   panel c: P fixed (--P_c), against alpha for each A.
-- Normalization of w_perp's share (NOTES.md flags it): Eq. 67 weighs the D - 1 orthogonal
-- eigenfunctions by the task's power on them, (1 - alpha^2) in total; the summary also gives
-- the prediction with (1 - alpha^2)/(D - 1) (w_perp's share per direction) for comparison.
-- Then a learned kernel: a depth-L linear net trained from small init on y = beta.x; for a
-- linear net K(x, x') = x^T M x' exactly, with M = its NTK on the basis vectors. Learning curves
-- with the initial M_0 and the final M_T (each divided by its bulk eigenvalue, the mean of all
-- but the top one), beside the theory with A fitted from M_T's spectrum (top / bulk - 1).
-- Run: build/bin/ntklab run experiments/transfer.lua; figure: build/bin/ntklab
-- experiments/figures/transfer.lua RUN_DIR. Writes panel_a.csv, panel_b.csv, panel_c.csv,
-- learned.csv and summary.json.
local ntklab = require "ntklab"
local theory = ntklab.theory

local experiment = {
  name = "transfer",
  summary = "Transfer learning curves with the kernel x^T[A beta beta^T + I]x' against Eq. 67, "
    .. "and with a trained net's final NTK (paper Figure F.1).",
  options = {
    {name = "D", type = "integer", default = 100, min = 2, max = 5000, help = "input dimension"},
    {name = "Ps", type = "string", default = "5,10,20,40,80", help = "training set sizes (comma-separated)"},
    {name = "As", type = "string", default = "0,1,3,9", help = "kernel spike strengths A (panels a, c)"},
    {name = "alphas", type = "string", default = "0,0.5,0.8,0.95", help = "task correlations alpha (panels b, c)"},
    {name = "alpha_a", type = "number", default = 0.75, min = -1, max = 1, help = "alpha of panel a"},
    {name = "A_b", type = "number", default = 1, min = 0, help = "A of panel b"},
    {name = "P_c", type = "integer", default = 20, min = 1, max = 100000, help = "P of panel c"},
    {name = "ridge", type = "number", default = 1e-2, min = 0, help = "ridge lambda"},
    {name = "trials", type = "integer", default = 300, min = 2, max = 1000000, help = "training sets per point"},
    {name = "depth", type = "integer", default = 3, min = 2, max = 8, help = "learned kernel: net depth L"},
    {name = "width", type = "integer", default = 50, min = 1, max = 10000, help = "learned kernel: hidden width"},
    {name = "sigma", type = "number", default = 0.1, min = 0, help = "learned kernel: init scale"},
    {name = "P_train", type = "integer", default = 200, min = 2, max = 100000,
      help = "learned kernel: samples the net is trained on (task beta)"},
    {name = "seed", type = "integer", default = 1, help = "seed of everything"},
  },
  columns = {"within_2se", "points", "learned_beats_initial", "A_fit"},
}

local function numbers(text, name, die)
  local out = {}
  for v in text:gmatch("[^,]+") do
    local x = tonumber(v)
    if not x then die(("option '%s': number expected, got '%s'"):format(name, v)) end
    out[#out + 1] = x
  end
  if #out == 0 then die(("option '%s': at least one value expected"):format(name)) end
  return out
end

-- A random unit vector (D) orthogonal to the unit vector u.
local function orthogonal_unit(rng, u)
  local g = rng:normal(u:size(1))
  g:axpy_(-ntklab.matmul(u:reshape(1, u:size(1)), g):get(1), u)
  return g / g:norm()
end

-- Mean and standard error of |w_hat - w|^2 for kernel M (D x D) over `trials` training sets of
-- P points; the task draws w_perp per training set around the unit vector beta.
local function curve_point(rng, M, beta, alpha, P, ridge, trials)
  local D = beta:size(1)
  local sum, sum2 = 0, 0
  for _ = 1, trials do
    local w = beta * alpha + orthogonal_unit(rng, beta) * math.sqrt(1 - alpha * alpha)
    local X = rng:normal(P, D)
    local y = ntklab.matmul(X, w)
    local XM = ntklab.matmul(X, M)
    local K = ntklab.matmul(XM, X:t())
    K:diagonal():add_(ridge)
    local c, msg = ntklab.linalg.cholesky_solve(K, y)
    if not c then
      c = ntklab.linalg.lstsq(K, y) -- ridge 0 with P > rank: the minimum-norm solution
      if not c then error("transfer: kernel solve failed: " .. tostring(msg)) end
    end
    local e = (ntklab.matmul(XM:t(), c) - w):norm() ^ 2
    sum, sum2 = sum + e, sum2 + e * e
  end
  local mean = sum / trials
  return mean, math.sqrt(math.max(sum2 / trials - mean * mean, 0) / (trials - 1))
end

-- M = A beta beta^T + I.
local function spike_kernel(beta, A)
  local D = beta:size(1)
  return ntklab.eye(D) + ntklab.outer(beta, beta) * A
end

-- E_g with w_perp's share spread as (1 - alpha^2)/(D - 1): the normalization Eq. 67 does not use.
local function per_direction_share(P, D, A, alpha, ridge)
  local _, kappa, gamma = theory.transfer_error(P, D, A, alpha, ridge)
  if kappa == 0 then return 0 end
  local d1, d2 = (1 + A) * P + kappa, P + kappa
  return (alpha ^ 2 * kappa ^ 2 / d1 ^ 2 + (1 - alpha ^ 2) / (D - 1) * kappa ^ 2 / d2 ^ 2) / (1 - gamma)
end

function experiment.run(opts, ctx)
  local die = ctx.fail
  local D, ridge, trials = opts.D, opts.ridge, opts.trials
  local Ps, As, alphas = numbers(opts.Ps, "Ps", die), numbers(opts.As, "As", die), numbers(opts.alphas, "alphas", die)
  for _, a in ipairs(alphas) do if math.abs(a) > 1 then die("option 'alphas': values in [-1, 1] expected") end end
  for _, A in ipairs(As) do if not (A > -1) then die("option 'As': values > -1 expected") end end
  local rng = ntklab.rng(opts.seed)
  local beta = rng:normal(D)
  beta = beta / beta:norm()
  local total = (#As + #alphas) * #Ps + #As * #alphas + 2 * #alphas * #Ps
  local progress = ctx.progress{total = total}
  local done = 0
  local within, points, worst = 0, 0, 0
  local function point(M, A, alpha, P)
    local mean, se = curve_point(rng, M, beta, alpha, P, ridge, trials)
    local th = theory.transfer_error(P, D, A, alpha, ridge)
    local z = math.abs(mean - th) / se
    points, worst = points + 1, math.max(worst, z)
    if z <= 2 then within = within + 1 end
    done = done + 1
    progress:update(done)
    return {A, alpha, P, mean, se, th, per_direction_share(P, D, A, alpha, ridge), z}
  end
  local cols = {"A", "alpha", "P", "sim_mean", "sim_se", "theory", "theory_per_direction", "z"}
  local rows_a, rows_b, rows_c = {}, {}, {}
  for _, A in ipairs(As) do
    local M = spike_kernel(beta, A)
    for _, P in ipairs(Ps) do rows_a[#rows_a + 1] = point(M, A, opts.alpha_a, P) end
  end
  local Mb = spike_kernel(beta, opts.A_b)
  for _, alpha in ipairs(alphas) do
    for _, P in ipairs(Ps) do rows_b[#rows_b + 1] = point(Mb, opts.A_b, alpha, P) end
  end
  for _, A in ipairs(As) do
    local M = spike_kernel(beta, A)
    for _, alpha in ipairs(alphas) do rows_c[#rows_c + 1] = point(M, A, alpha, opts.P_c) end
  end
  ctx.timer:lap("theory panels")
  -- the rejected normalization: how far it sits from the simulation, in standard errors
  local per_dir_worst = 0
  for _, rows in ipairs{rows_a, rows_b, rows_c} do
    for _, r in ipairs(rows) do per_dir_worst = math.max(per_dir_worst, math.abs(r[4] - r[7]) / r[5]) end
  end

  -- ----- learned kernel --------------------------------------------------------------------------
  local L = opts.depth
  local widths = {D}
  for _ = 1, L - 1 do widths[#widths + 1] = opts.width end
  widths[#widths + 1] = 1
  local net = ntklab.mlp{widths = widths, activation = "linear", sigma = opts.sigma, seed = opts.seed}
  local I = ntklab.eye(D)
  local M0 = ntklab.ntk(net, I)
  local Xtr = rng:normal(opts.P_train, D)
  local ytr = ntklab.matmul(Xtr, beta)
  local c0 = opts.sigma ^ L
  local T = 3 * theory.t_half(1, L, math.min(c0, 0.1))
  local flow = ntklab.train.flow{method = "rk45", rtol = 1e-6, atol = 1e-9}
  local final_loss, ferr = flow:run(net, Xtr, ytr, {t = T})
  if final_loss == nil then die(ferr) end
  ctx.timer:lap("train")
  local MT = ntklab.ntk(net, I)
  -- each kernel divided by its bulk eigenvalue (mean of all but the top one); A from MT
  local function normalized(M)
    local w = ntklab.linalg.eigh(M)
    local bulk = (w:sum() - w:get(D)) / (D - 1)
    return M / bulk, w:get(D) / bulk - 1
  end
  local M0n, A0 = normalized(M0)
  local MTn, A_fit = normalized(MT)
  local rows_l = {}
  local beats = true
  for _, alpha in ipairs(alphas) do
    for _, P in ipairs(Ps) do
      local m0, s0 = curve_point(rng, M0n, beta, alpha, P, ridge, trials)
      local mT, sT = curve_point(rng, MTn, beta, alpha, P, ridge, trials)
      rows_l[#rows_l + 1] = {alpha, P, m0, s0, mT, sT, theory.transfer_error(P, D, A_fit, alpha, ridge)}
      if alpha >= 0.8 and P <= Ps[math.min(2, #Ps)] and not (mT + 2 * sT < m0 - 2 * s0) then beats = false end
      done = done + 2
      progress:update(done)
    end
  end
  progress:finish()
  ctx.write_csv("panel_a.csv", cols, rows_a)
  ctx.write_csv("panel_b.csv", cols, rows_b)
  ctx.write_csv("panel_c.csv", cols, rows_c)
  ctx.write_csv("learned.csv", {"alpha", "P", "initial_mean", "initial_se", "final_mean", "final_se", "theory_fitted"}, rows_l)
  return {
    D = D, ridge = ridge, trials = trials, Ps = Ps, As = As, alphas = alphas,
    points = points, within_2se = within, max_z = worst,
    within_rule = "|simulated mean - Eq. 67| <= 2 standard errors of the mean",
    per_direction_normalization_max_z = per_dir_worst,
    learned = {depth = L, width = opts.width, sigma = opts.sigma, P_train = opts.P_train, t_end = T,
      final_loss = final_loss, A_initial = A0},
    A_fit = A_fit, A_theory = L - 1,
    learned_beats_initial = beats,
    learned_rule = "for alpha >= 0.8 at the two smallest P: final-NTK mean + 2 se < initial-NTK mean - 2 se",
  }
end

function experiment.verdict(s)
  local ok = s.within_2se == s.points and s.learned_beats_initial
  return ok and "Eq. 67 matches; the learned kernel transfers better" or "transfer: see summary",
    string.format("%d of %d points within 2 se of Eq. 67 (max %.2f se; per-direction normalization: %.1f se); "
      .. "fitted A = %.3f (theory L - 1 = %d); learned beats initial at alpha >= 0.8, small P: %s",
      s.within_2se, s.points, s.max_z, s.per_direction_normalization_max_z, s.A_fit, s.A_theory,
      tostring(s.learned_beats_initial))
end

return experiment
