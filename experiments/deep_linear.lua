-- deep_linear.lua: the paper's Figure 3 and Appendix E.1, one run. A deep linear net
-- f(x) = W^L ... W^1 x (D = 30 inputs, hidden width N = 50, depth L) on synthetic whitened data
-- (a linear teacher y = s beta.x, |beta| = 1, X^T X / P = I), trained by rk45 gradient flow from
-- scale sigma until the loss has fallen by stop_ratio. Records, on a log-spaced time grid
-- (per_decade records per decade, from t_min):
--   loss, c = v.beta (v = W^L ... W^1, the theory's c = u^L), cos(W1^T W1, beta beta^T), the
--   NTK's kernel-target alignment (uncentered, y^T K y / (|K|_F |y|^2)) and |K|_F.
-- Readouts: t_half (the loss at half its initial value, the paper's "time to half loss"),
-- t_c_half (c = s/2), t_cos_half (the cosine at 1/2), the final alignment against theory's
-- L / sqrt(L^2 + r - 1) (r = D, the data's rank) and the first layer's final cosine.
-- init = "aligned" starts on the balanced rank-one manifold along beta (u0 = sigma per layer,
-- deep_linear.aligned_init), where theory.deep_c is exact: t_half must then equal theory.t_half
-- up to the integrator's and the readout's errors. init = "random" is the paper's Gaussian init
-- (W^l_ij ~ N(0, sigma^2 / n_{l-1})), whose effective start is sigma times a width-dependent
-- constant: the sweep's figure script fits that constant per depth.
-- Sweeps: ntklab sweep experiments/deep_linear.lua --grid depth=2,3,4,5 --grid sigma=... ;
-- figures: experiments/figures/deep_linear.lua reads the merged table and the trajectories.
local ntklab = require "ntklab"
local theory = ntklab.theory
local curves = require "ntklab.curves"
local deep_linear = require "ntklab.deep_linear"
local record_schedule = require "ntklab.record_schedule"

local M = {
  name = "deep_linear",
  summary = "Deep linear net from small init on whitened synthetic data: t_1/2 and t_cos1/2 against "
    .. "sigma, final alignment against L/sqrt(L^2+r-1) (paper Figure 3, Appendix E.1)",
  options = record_schedule.options({
    {name = "depth", type = "integer", default = 3, min = 2, max = 12, help = "number of weight layers L"},
    {name = "sigma", type = "number", default = 1e-2, min = 0, help = "initialization scale"},
    {name = "init", type = "choice", choices = {"random", "aligned"}, default = "random",
      help = "random: Gaussian W^l ~ N(0, sigma^2/n_{l-1}); aligned: balanced rank one along beta, u0 = sigma"},
    {name = "width", type = "integer", default = 50, min = 1, help = "hidden width N"},
    {name = "dim", type = "integer", default = 30, min = 1, help = "input dimension D"},
    {name = "P", type = "integer", default = 100, min = 1, help = "training points (P >= D: whitened to rank D)"},
    {name = "s", type = "number", default = 1, min = 0, help = "teacher scale s (y = s beta.x)"},
    {name = "rtol", type = "number", default = 1e-8, min = 0,
      help = "rk45 relative tolerance (absolute: rtol x sigma^L)"},
    {name = "seed", type = "integer", default = 1, help = "seed of the data, the teacher and the init"},
  }, {t_max = {default = 1e12},
    per_decade = {help = "records per decade of t at least (more where the observables move)"},
    max_change = {help = "at most about this change of log loss, c/s, the cosine, the alignment and log |K|_F per record"}}),
}

local DATASET = "synthetic whitened Gaussian inputs, linear teacher"

function M.run(cfg, ctx)
  local bad_times = record_schedule.check_times(cfg)
  if bad_times then ctx.fail(bad_times) end
  if not (cfg.sigma > 0 and cfg.s > 0) then ctx.fail("need sigma > 0 and s > 0") end
  if cfg.P < cfg.dim then ctx.fail(("whitening needs P >= dim, got P = %d, dim = %d"):format(cfg.P, cfg.dim)) end
  local L = cfg.depth
  local ds, err = ntklab.data.teacher{P = cfg.P, D = cfg.dim, s = cfg.s, whiten = true, seed = cfg.seed}
  if not ds then ctx.fail(err) end
  local X, y, beta = ds.X_train, ds.y_train, ds.beta
  local widths = {cfg.dim}
  for _ = 1, L - 1 do widths[#widths + 1] = cfg.width end
  widths[#widths + 1] = 1
  local net = ntklab.mlp{widths = widths, activation = "linear", sigma = cfg.sigma, seed = cfg.seed}
  if cfg.init == "aligned" then deep_linear.aligned_init(net, beta, cfg.sigma, ntklab.rng(cfg.seed)) end
  local c0 = deep_linear.coefficient(net, beta)
  local balance0 = deep_linear.balance_gap(net)
  -- Weights start at O(sigma) and the map at O(sigma^L): an absolute tolerance of rtol x
  -- sigma^L keeps the early, exponentially small growth resolved.
  local flow = ntklab.train.flow{method = "rk45", rtol = cfg.rtol, atol = cfg.rtol * cfg.sigma ^ L}
  local ws = ntklab.kernel_workspace()
  local K = ntklab.zeros(cfg.P, cfg.P)
  local traj = {t = {}, loss = {}, c = {}, cos = {}, alignment = {}, kernel_norm = {}}
  local function observe(t, loss, nt)
    ntklab.ntk(nt, X, {output = "trace", workspace = ws, out = K})
    local i = #traj.t + 1
    traj.t[i], traj.loss[i] = t, loss
    traj.c[i] = deep_linear.coefficient(nt, beta)
    traj.cos[i] = deep_linear.first_layer_cosine(nt, beta)
    traj.alignment[i] = ntklab.alignment(K, y)
    traj.kernel_norm[i] = K:norm()
  end
  local loss0 = net:loss(X, y)
  local s = cfg.s
  local _, converged = record_schedule.run_experiment(ctx, cfg, {trainer = flow, net = net, X = X, y = y,
    loss0 = loss0, label = ("deep_linear L=%d sigma=%g"):format(L, cfg.sigma),
    observe = function(t, loss, nt)
      observe(t, loss, nt)
      local i = #traj.t
      -- log |K|_F grows smoothly with the layers' scale u^{2L-2} (c itself sits near 0, then
      -- jumps): watching it samples the take-off of the sigmoid.
      return {math.log(loss), traj.c[i] / s, traj.cos[i], traj.alignment[i], math.log(traj.kernel_norm[i])}
    end})
  ctx.timer:lap("train")

  local n = #traj.t
  local rows = {}
  local columns = {"t", "loss", "c", "cos", "alignment", "kernel_norm"}
  for i = 1, n do
    rows[i] = {traj.t[i], traj.loss[i], traj.c[i], traj.cos[i], traj.alignment[i], traj.kernel_norm[i]}
  end
  ctx.write_csv("trajectory.csv", columns, rows)

  -- The loss is (s - c)^2/2 + |v_perp|^2/2 on whitened data; on the aligned manifold v_perp = 0,
  -- so the loss halves when s - c = (s - c0)/sqrt(2): theory.t_half's level for that c.
  local loss_level = 1 - (1 - c0 / s) / math.sqrt(2)
  local t_half = curves.crossing(traj.t, traj.loss, loss0 / 2)
  local t_c_half = curves.crossing(traj.t, traj.c, s / 2)
  local t_cos_half = traj.cos[1] < 0.5 and curves.crossing(traj.t, traj.cos, 0.5) or nil
  local ode_ok = c0 > 0 and c0 < s / 2
  local rank = cfg.dim -- whitened, P >= D: X has D equal singular values
  local align_theory = theory.max_alignment(L, rank)
  return {
    dataset = DATASET,
    data = {dataset = "teacher", P = cfg.P, D = cfg.dim, rank = rank, s = s, whitened = true},
    depth = L, sigma = cfg.sigma, init = cfg.init, seed = cfg.seed, width = cfg.width,
    c0 = c0,
    converged = converged,
    t_end = traj.t[n], steps = flow.steps, gradient_evals = flow.evals, records = n,
    loss_initial = loss0, loss_final = traj.loss[n], c_final = traj.c[n],
    t_half = t_half, t_c_half = t_c_half, t_cos_half = t_cos_half,
    cos_before_loss = (t_cos_half and t_half) and (t_cos_half < t_half) or nil,
    -- the ODE from this run's own c0: exact for init = aligned, a reference for random init
    t_half_ode = ode_ok and theory.t_half(s, L, c0, loss_level) or nil,
    t_c_half_ode = ode_ok and theory.t_half(s, L, c0) or nil,
    -- the ODE and its leading term from the nominal start c0 = sigma^L
    t_half_ode_nominal = cfg.sigma ^ L < s / 2 and theory.t_half(s, L, cfg.sigma ^ L, 1 - (1 - cfg.sigma ^ L / s) / math.sqrt(2)) or nil,
    t_half_asymptotic = theory.t_half_asymptotic(cfg.sigma, L, s),
    alignment_initial = traj.alignment[1], alignment_final = traj.alignment[n],
    alignment_theory = align_theory,
    alignment_rel_err = math.abs(traj.alignment[n] - align_theory) / align_theory,
    alignment_initial_theory = theory.initial_alignment(rank),
    cos_initial = traj.cos[1], cos_final = traj.cos[n],
    kernel_norm_initial = traj.kernel_norm[1], kernel_norm_final = traj.kernel_norm[n],
    balance_gap_initial = balance0, balance_drift = math.abs(deep_linear.balance_gap(net) - balance0),
  }
end

function M.verdict(summary)
  if not summary.converged then return "not converged", ("loss %.3g at t = %.3g"):format(summary.loss_final, summary.t_end) end
  return "converged", ("t_half %.4g, t_cos_half %s, final alignment %.4f (theory %.4f)"):format(summary.t_half,
    summary.t_cos_half and ("%.4g"):format(summary.t_cos_half) or "-", summary.alignment_final, summary.alignment_theory)
end

return M
