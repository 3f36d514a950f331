-- Figure 4 from merged sweeps of experiments/partial_whitening.lua (`ntklab sweep merge DIR`):
-- it reads DIR/runs.csv and, for seed 1 of each gamma, the run's trajectory.csv and spectrum.csv;
-- it never trains. The first sweep directory drives panels (a), (b), (d), (e) (use the Adam
-- sweep, as in the paper); every directory given adds its curves to (c), (f) and (g).
--   build/bin/ntklab experiments/figures/partial_whitening.lua OUT.png "TITLE" DIR [DIR ...]
-- Panels: (a) covariance eigenvalues lambda_k^gamma (top one scaled to 1); (b) train loss;
-- (c) final test classification error vs gamma; (d) |K|_F; (e) kernel-target alignment;
-- (f) relative L2 error of kernel regression with the final NTK, the initial NTK and (Adam) the
-- final Adam kernel of Eq. 91 against the trained net's test outputs; (g) their correlations.
-- (c), (f), (g): mean +- standard error over the seeds in runs.csv. It also prints those as a
-- Markdown table on stdout (the results page's table).
local json = require "ntklab.json"
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")
local read, mean_se, COLORS = figure_script.read_columns, figure_script.mean_se, figure_script.COLORS

local fmt = string.format

-- The sweep's rows grouped by gamma: {gammas = sorted list, [gamma] = {rows...}}, plus trainer.
local function load_sweep(dir)
  local by, gammas = figure_script.done_runs_by(dir, "gamma")
  return {dir = dir, gammas = gammas, by = by}
end

local function stat(sw, key)
  local xs, m, se = {}, {}, {}
  for i, g in ipairs(sw.gammas) do
    local vals = {}
    for _, row in ipairs(sw.by[g]) do vals[#vals + 1] = row[key] end
    local n
    m[i], se[i], n = mean_se(vals)
    xs[i] = g
    if n == 0 then m[i] = 0 / 0 end
  end
  return xs, m, se
end

local function draw(png, title, dirs)
  local sweeps = {}
  for i, d in ipairs(dirs) do sweeps[i] = load_sweep(d) end
  local first = sweeps[1]
  local function trainer_of(sw)
    local row = sw.by[sw.gammas[1]][1]
    -- the trainer: a grid parameter, a column, or the sweep directory's last word (fig4-...-adam)
    return row.trainer or row["config.trainer"] or sw.dir:match("(%w+)/?$")
  end
  local spec_s, loss_s, norm_s, align_s = {}, {}, {}, {}
  for i, g in ipairs(first.gammas) do
    local run = first.dir .. "/" .. first.by[g][1].run
    local sp = read(run .. "/spectrum.csv")
    local tr = read(run .. "/trajectory.csv")
    local c = COLORS[(i - 1) % #COLORS + 1]
    local name = fmt("γ = %g", g)
    spec_s[#spec_s + 1] = {x = sp.k, y = sp.lambda, title = name, color = c}
    local t, loss, kn, al = {}, {}, {}, {}
    for k = 2, #tr.t do t[#t + 1], loss[#loss + 1], kn[#kn + 1], al[#al + 1] = tr.t[k], tr.loss[k], tr.kernel_norm[k], tr.alignment[k] end
    loss_s[#loss_s + 1] = {x = t, y = loss, title = name, color = c}
    norm_s[#norm_s + 1] = {x = t, y = kn, title = name, color = c}
    align_s[#align_s + 1] = {x = t, y = al, title = name, color = c}
  end
  local err_s, relf_s, corr_s = {}, {}, {}
  local table_lines = {
    "| trainer | gamma | final NTK rel err | initial NTK rel err | ratio final/initial | Adam kernel rel err | final NTK corr | test error | train loss | n |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"}
  for j, sw in ipairs(sweeps) do
    local tn = trainer_of(sw)
    local x, m, se = stat(sw, "final.test_error")
    err_s[#err_s + 1] = {x = x, y = m, dy = se, title = tn .. ": net", style = "errorbars", color = COLORS[j]}
    local keys = {{"predictors.final_ntk", "final NTK", "errorbars"}, {"predictors.initial_ntk", "initial NTK", "errorbars"},
      {"predictors.final_adam_kernel", "Adam kernel (Eq. 91)", "errorbars"}}
    for k, spec in ipairs(keys) do
      local _, mr, ser = stat(sw, spec[1] .. ".rel_err")
      local _, mc, sec = stat(sw, spec[1] .. ".corr")
      local any = false
      for _, v in ipairs(mr) do if v == v then any = true end end
      if any then
        local c = COLORS[(j - 1) * 3 + k]
        relf_s[#relf_s + 1] = {x = x, y = mr, dy = ser, title = tn .. ": " .. spec[2], style = spec[3], color = c}
        corr_s[#corr_s + 1] = {x = x, y = mc, dy = sec, title = tn .. ": " .. spec[2], style = spec[3], color = c}
      end
    end
    local _, mf, sf = stat(sw, "predictors.final_ntk.rel_err")
    local _, mi, si = stat(sw, "predictors.initial_ntk.rel_err")
    local _, mq, sq = stat(sw, "predictors.ratio_final_initial")
    local _, ma, sa = stat(sw, "predictors.final_adam_kernel.rel_err")
    local _, mc, sc = stat(sw, "predictors.final_ntk.corr")
    local _, me, see = stat(sw, "final.test_error")
    local _, ml, sl = stat(sw, "final.train_loss")
    for i, g in ipairs(sw.gammas) do
      local function pm(a, b, d) return a == a and fmt("%." .. d .. "f ± %." .. d .. "f", a, b) or "–" end
      table_lines[#table_lines + 1] = fmt("| %s | %g | %s | %s | %s | %s | %s | %s | %s | %d |", tn, g, pm(mf[i], sf[i], 4),
        pm(mi[i], si[i], 3), pm(mq[i], sq[i], 3), pm(ma[i], sa[i], 3), pm(mc[i], sc[i], 5), pm(me[i], see[i], 4),
        ml[i] == ml[i] and fmt("%.1e", ml[i]) or "–", #sw.by[g])
    end
  end
  local tn1 = trainer_of(first)
  -- the data and the net, from the first run's settings (config.json)
  local first_run = first.by[first.gammas[1]][1]
  local run = first_run and json.read_json(first.dir .. "/" .. first_run.run .. "/config.json")
  local cfg = run and run.config
  if cfg then
    title = fmt("%s\n%s, P = %d, %d test points; two-layer ReLU net of width %d, σ = %g; %s; seeds of runs.csv", title,
      tostring(cfg.dataset), cfg.P, cfg.test, cfg.width, cfg.sigma, tostring(cfg.trainer))
  end
  local ok, err = plot.figure{file = png, title = title, rows = 2, cols = 4, width = 1900, height = 900, panels = {
    {title = "(a) spectrum λ_{k}^{γ}", xlabel = "k", ylabel = "λ_{k}^{γ}", logx = true, logy = true, yrange = {"*", 2},
      key = "bottom left", series = spec_s},
    {title = "(b) train loss (" .. tn1 .. ", seed 1)", xlabel = "t", ylabel = "loss", logx = true, logy = true,
      key = "bottom left", series = loss_s},
    {title = "(c) test error of the net", xlabel = "γ", ylabel = "test classification error",
      key = "top left", series = err_s},
    {title = "(d) ‖K‖_{F} (" .. tn1 .. ", seed 1)", xlabel = "t", ylabel = "‖K‖_{F}", logx = true, logy = true,
      key = "top left", series = norm_s},
    {title = "(e) alignment (" .. tn1 .. ", seed 1)", xlabel = "t", ylabel = "y^{T}Ky / (‖K‖_{F} ‖y‖^{2})", logx = true,
      key = "top left", series = align_s},
    {title = "(f) kernel regression vs net: rel L2 error", xlabel = "γ", ylabel = "‖f_{K} - f_{net}‖ / ‖f_{net}‖",
      logy = true, key = "top left", series = relf_s},
    {title = "(g) kernel regression vs net: correlation", xlabel = "γ", ylabel = "corr(f_{K}, f_{net})",
      key = "bottom left", series = corr_s},
  }}
  if not ok then error(err, 0) end
  return table.concat(table_lines, "\n")
end

figure_script.main("partial_whitening", "OUT.png TITLE SWEEP_DIR [SWEEP_DIR ...]", function(a)
  if a[1] and a[2] and a[3] then return {a[1], a[2], {table.unpack(a, 3)}} end
end, draw)

return {draw = draw}
