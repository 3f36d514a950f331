-- phase_portrait.lua: the paper's Figure 2. Linear regression in the plane (D = 2, one training
-- point, so the interpolating weights are a line X^T beta = y) by a two-layer linear net
-- f(x) = a^T W x from small init, trained by gradient flow; the same simulation as
-- experiments/unwhitened_linear.lua (Figure C.1) with D = 2 and P = 1. Three panels: level curves
-- of the RKHS norm beta^T M^-1 beta of f = beta . x under the kernel M = W^T W + |a|^2 I at t = 0,
-- at the end of phase I (|a|^2 = 1e-2 s) and at the end, with the interpolating line, the
-- minimum-norm interpolator and the path of beta(t) = W^T a. Phase I: the level curves turn from
-- circles into ellipses stretched along the data point while beta stays near 0; phase II: beta
-- moves out along the stretched axis to the min-norm point of the line.
-- Run: build/bin/ntklab run experiments/phase_portrait.lua [--option value ...]
-- Writes trajectory.csv, kernels.csv, data.csv, plane.csv, summary.json and fig2.png (drawn by
-- experiments/figures/phase_portrait.lua from those files).
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local linear = dofile(here .. "/unwhitened_linear.lua")

local experiment = {
  name = "phase_portrait",
  summary = "Figure 2: the phase portrait of a two-layer linear net learning one point in the "
    .. "plane: the kernel's level curves rotate first (phase I), then the weights move (phase II).",
  options = {},
  columns = {"phase_I.t", "phase_I.beta_norm_over_s", "phase_I.cos_beta", "final.rel_dist_min_norm"},
}

-- Figure C.1's options without P and D (one point in the plane), with this figure's defaults.
local CHANGES = {N = {default = 50}, t_max = {default = 100},
  alpha = {default = 2, help = "the point is drawn from N(0, diag(1, 2^-alpha))"},
  seed = {help = "seed of the point, the teacher and the init"}}
for _, o in ipairs(linear.options) do
  if o.name ~= "P" and o.name ~= "D" then
    local copy = {}
    for k, v in pairs(o) do copy[k] = v end
    for k, v in pairs(CHANGES[o.name] or {}) do copy[k] = v end
    experiment.options[#experiment.options + 1] = copy
  end
end

function experiment.run(opts, ctx)
  local cfg = {P = 1, D = 2, N = opts.N, alpha = opts.alpha, s = opts.s, sigma = opts.sigma,
    t_max = opts.t_max, records = opts.records, rtol = opts.rtol, seed = opts.seed}
  local summary, tables = linear.simulate(cfg, ctx)
  -- how far beta = W^T a has moved by the end of phase I, relative to the solution's length
  local tr = tables.trajectory
  for i = 1, #tr.t do
    if tr.t[i] == summary.phase_I.t then
      summary.phase_I.beta_norm_over_s = math.sqrt(tr.path1[i] ^ 2 + tr.path2[i] ^ 2) / summary.data.s
    end
  end
  summary.experiment = "phase_portrait"
  summary.config = opts
  local fig = dofile(here .. "/figures/phase_portrait.lua")
  linear.write(ctx, summary, tables, fig.draw, "fig2.png", opts)
  return summary
end

function experiment.verdict(s)
  local ok = s.phase_I.cos_beta >= 0.99 and s.phase_I.beta_norm_over_s < 0.05
    and s.final.rel_dist_min_norm < 1e-2
  return ok and "kernel first, weights second" or "phases not separated",
    string.format("end of phase I (t = %.3g): kernel's top eigenvector at cos %.4f with the data "
      .. "direction while |W^T a| = %.3f s; end: |W^T a - X^+ y| / |X^+ y| = %.2e", s.phase_I.t,
      s.phase_I.cos_beta, s.phase_I.beta_norm_over_s, s.final.rel_dist_min_norm)
end

return experiment
