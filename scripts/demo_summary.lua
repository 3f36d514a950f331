-- scripts/demo_summary.lua SUMMARY.json: the short table that scripts/demo prints.
local output = require "ntklab".output
local path = arg[1] or "results/silent_alignment/summary.json"
local s, err = output.read_json(path)
if not s then io.stderr:write("demo: ", tostring(err), "\n") os.exit(1) end
local function g(v) return type(v) == "number" and string.format("%.4g", v) or "-" end
local pf, pi = s.predictors.final_ntk, s.predictors.initial_ntk
local lines = {
  string.format("data            %s, P = %s, D = %s (whitened rank %s), %s test points",
    s.data.dataset, g(s.data.P), g(s.data.D), g(s.data.rank), g(s.data.test)),
  string.format("training        %s to t = %s, train loss %s, test error %s",
    s.trainer.method, g(s.final.t), g(s.final.train_loss), g(s.final.test_error)),
  string.format("alignment       initial %s -> final %s (centered final %s)",
    g(s.alignment.initial), g(s.alignment.final), g(s.alignment.centered_final)),
}
local function before(a, b)
  return (type(a) == "number" and type(b) == "number" and a < b) and "<" or "not <"
end
local dir, inf = s.direction, s.informative or {reasons = {}}
if dir and dir.initial then
  local k = dir.at_kernel10 or {layers = {}}
  local layers = {}
  for l, c in ipairs(k.layers or {}) do layers[l] = string.format("layer %d %s", l, g(c)) end
  lines[#lines + 1] = string.format("direction       c(t) = cos(K(t), K_end): c(0) %s, at t_kernel10 %s (%s; learned part %s)",
    g(dir.initial.total), g(k.total), table.concat(layers, ", "), g(k.learned))
end
lines[#lines + 1] = string.format("times           t_dir90 %s %s t_kernel10 %s, t_half %s, t_end %s",
  g(s.times.dir90), before(s.times.dir90, s.times.kernel10), g(s.times.kernel10), g(s.times.half_loss),
  g(s.times.t_end))
lines[#lines + 1] = string.format("                t_align90 %s: %s", g(s.times.align90), tostring(inf.reasons.align90))
lines[#lines + 1] = "predictor vs trained net on the test points:"
for _, line in ipairs{
  string.format("  final NTK     rel L2 error %s   corr %s", g(pf.rel_err), g(pf.corr)),
  string.format("  initial NTK   rel L2 error %s   corr %s   (%sx the final one's error)",
    g(pi.rel_err), g(pi.corr), g(pi.rel_err / pf.rel_err)),
} do lines[#lines + 1] = line end
local ek = s.early_kernel
if ek then
  for _, at in ipairs{{"at_dir90", "t_dir90"}, {"at_kernel10", "t_kernel10"}} do
    local r = ek[at[1]]
    if r then
      lines[#lines + 1] = string.format("  K(t) at %-10s rel L2 error %s   (record t = %s, %s%% of the training time)",
        at[2], g(r.rel_err), g(r.t), g(100 * r.fraction))
    end
  end
end
local pk = s.predictors.path_kernel
if pk then
  -- corr to 6 digits: it is 0.9999x here, which %.4g would round to 1
  lines[#lines + 1] = string.format("  path kernel   rel L2 error %s   corr %.6g   (Eq. 2 from %s snapshots, %.2g s)",
    g(pk.rel_err), pk.corr, g(pk.snapshots), pk.seconds + pk.snapshot_seconds)
end
if s.predictors.path_kernel_skipped then
  lines[#lines + 1] = "  path kernel   " .. s.predictors.path_kernel_skipped
end
if s.predictors.completion_rel_change and pf.rel_err_completed then
  -- the net continued to t = infinity under its final kernel (it stopped at the stop loss)
  lines[#lines + 1] = string.format("  against the net completed under its final kernel (it moves %s): final NTK %s, initial NTK %s",
    g(s.predictors.completion_rel_change), g(pf.rel_err_completed), g(pi.rel_err_completed))
end
local pa = s.predictors.final_adam_kernel
if pa then
  lines[#lines + 1] = string.format("  Adam kernel   rel L2 error %s   corr %s   (final K_eta of Eq. 91: NTK weighted by Adam's steps)",
    g(pa.rel_err), g(pa.corr))
end
for _, line in ipairs{
  string.format("silent alignment: %s (%s)", tostring(s.silent_alignment), s.verdict.reason),
  "files:",
  "  " .. s.files.summary, "  " .. s.files.trajectory, "  " .. s.files.predictions,
} do lines[#lines + 1] = line end
for _, p in ipairs(s.files.plots or {}) do lines[#lines + 1] = "  " .. p end
print(table.concat(lines, "\n"))
