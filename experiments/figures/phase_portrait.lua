-- Figure 2 from a run directory of experiments/phase_portrait.lua: the three level-curve panels
-- of experiments/figures/unwhitened_linear.lua (t = 0, end of phase I, end) with the interpolating
-- line, without the cosine panel; reads the run's CSV files only.
--   build/bin/ntklab experiments/figures/phase_portrait.lua RUN_DIR [OUT.png]
-- As a module (dofile): {draw = function(run_dir, png) -> true or nil, msg}.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local c1 = dofile(here .. "/unwhitened_linear.lua")

local fig = {}

function fig.draw(dir, png)
  return c1.draw(dir, png, {cos_panel = false, xlabel = "β_{1}", ylabel = "β_{2}",
    title = "Figure 2: RKHS-norm level curves of f(x) = β · x under the NTK, D = 2, one training point"})
end

c1.main("phase_portrait", "fig2.png", fig.draw)

return fig
