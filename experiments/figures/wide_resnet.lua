-- Figure 1d-e and Appendix J.1-J.3 from a merged sweep of experiments/wide_resnet.lua
-- (`ntklab sweep merge DIR`): it reads DIR/runs.csv and, for the lowest seed of each value of
-- the swept option, that run's trajectory.csv and predictions.csv; it never trains.
--   build/bin/ntklab experiments/figures/wide_resnet.lua OUT.png DIR OPTION
-- OPTION is the swept option the curves are grouped by: gamma (Figure 1d-e with J.1: 0 is
-- whitened, 1 raw), b (J.2, depth) or k (J.3, width). The title names the dataset of the runs.
-- Panels: (a) train loss, (b) |K|_F with a dashed mark where it reaches 10% of its final value,
-- (c) the centered kernel-target alignment, all against Adam's step; (d) relative L2 error of
-- kernel regression with the final NTK, the initial NTK and Adam's kernel (Eq. 91) against the
-- trained net's test outputs, mean +- standard error over the seeds in runs.csv; (e) the net's
-- test outputs against the final- and initial-NTK predictors (lowest seed of the first value).
-- It also prints the results page's Markdown table on stdout.
local plot = require "ntklab.plot"
local figure_script = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "figure_script.lua")
local read, mean_se, COLORS = figure_script.read_columns, figure_script.mean_se, figure_script.COLORS

local fmt = string.format
local DATASET = {cifar10 = "CIFAR-10 0/1", fashion_mnist = "Fashion-MNIST 0/1"}

-- The done runs of the sweep grouped by the option's value.
local function load_sweep(dir, option)
  local by, values = figure_script.done_runs_by(dir, option)
  if #values == 0 then error(dir .. "/runs.csv: no finished run", 0) end
  for _, v in ipairs(values) do
    table.sort(by[v], function(a, b) return (tonumber(a.seed) or 0) < (tonumber(b.seed) or 0) end)
  end
  return {dir = dir, values = values, by = by}
end

-- The centered alignment's share of its final value at the step where |K|_F reaches 10% of its
-- final value (linear between records): 0.9 or more is the timing half of the verdict.
local function share_at_kernel10(dir, row)
  local s10 = tonumber(row["readouts.step_kernel10"])
  if not s10 then return 0 / 0 end
  local tr = read(dir .. "/" .. row.run .. "/trajectory.csv")
  local a, st, n = tr.alignment_centered, tr.step, #tr.step
  local at = a[n]
  for i = 2, n do
    if st[i] >= s10 then
      at = a[i - 1] + (a[i] - a[i - 1]) * (s10 - st[i - 1]) / (st[i] - st[i - 1])
      break
    end
  end
  if s10 <= st[1] then at = a[1] end
  return at / a[n]
end

local function label(option, v)
  if option == "gamma" then return v == 0 and "whitened" or fmt("gamma = %g (raw)", v) end
  return fmt("%s = %g", option, v)
end

local function draw(png, dir, option)
  local sw = load_sweep(dir, option)
  local first = sw.by[sw.values[1]][1]
  local dataset = DATASET[first["data.dataset"]] or tostring(first["data.dataset"])
  local loss_s, norm_s, align_s = {}, {}, {}
  for i, v in ipairs(sw.values) do
    local row = sw.by[v][1]
    local tr = read(dir .. "/" .. row.run .. "/trajectory.csv")
    local c = COLORS[(i - 1) % #COLORS + 1]
    local step, loss, kn, al = {}, {}, {}, {}
    for r = 1, #tr.t do
      step[r], loss[r], kn[r], al[r] = math.max(tr.step[r], 0.5), tr.loss[r], tr.kernel_norm[r], tr.alignment_centered[r]
    end
    local name = label(option, v)
    loss_s[#loss_s + 1] = {x = step, y = loss, title = name, color = c}
    norm_s[#norm_s + 1] = {x = step, y = kn, title = name, color = c}
    align_s[#align_s + 1] = {x = step, y = al, title = name, color = c}
    local s10 = tonumber(row["readouts.step_kernel10"])
    if s10 then s10 = math.max(s10, 0.5) end -- step 0 sits at 0.5 on the log axis, as the curves
    if s10 then
      -- the 10%-of-final-|K|_F marker, on the norm and the alignment panels
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(al) do lo, hi = math.min(lo, x), math.max(hi, x) end
      align_s[#align_s + 1] = {x = {s10, s10}, y = {lo, hi}, title = name .. ": |K| at 10%", style = "dashed", color = c}
      local klo, khi = math.huge, -math.huge
      for _, x in ipairs(kn) do klo, khi = math.min(klo, x), math.max(khi, x) end
      norm_s[#norm_s + 1] = {x = {s10, s10}, y = {klo, khi}, title = name .. ": 10% of final", style = "dashed", color = c}
    end
  end
  local rel_s, lines = {}, {
    fmt("| %s | final NTK rel err | initial NTK rel err | Adam kernel rel err | centered alignment (final) | its share when ‖K‖ reaches 10%% | step align90 / kernel10 | align90 < kernel10 | verdict silent | train loss | test error | n |", option),
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"}
  local keys = {{"predictors.final_ntk.rel_err", "final NTK"}, {"predictors.initial_ntk.rel_err", "initial NTK"},
    {"predictors.final_adam_kernel.rel_err", "Adam kernel (Eq. 91)"}}
  local xs = {}
  for i, v in ipairs(sw.values) do xs[i] = v end
  local stats = {}
  for k, key in ipairs(keys) do
    local m, se = {}, {}
    for i, v in ipairs(sw.values) do
      local vals = {}
      for _, row in ipairs(sw.by[v]) do vals[#vals + 1] = tonumber(row[key[1]]) end
      m[i], se[i] = mean_se(vals)
    end
    stats[k] = {m = m, se = se}
    rel_s[#rel_s + 1] = {x = xs, y = m, dy = se, title = key[2], style = "errorbars", color = COLORS[k]}
  end
  local function count(v, key)
    local yes, n = 0, 0
    for _, row in ipairs(sw.by[v]) do
      n = n + 1
      if tostring(row[key]) == "true" then yes = yes + 1 end
    end
    return fmt("%d/%d", yes, n)
  end
  local function pm(a, b) return a == a and (b == b and fmt("%.3f ± %.3f", a, b) or fmt("%.3f", a)) or "–" end
  for i, v in ipairs(sw.values) do
    local al, loss, err, share, s90, s10 = {}, {}, {}, {}, {}, {}
    for _, row in ipairs(sw.by[v]) do
      al[#al + 1] = tonumber(row["alignment.centered_final"])
      loss[#loss + 1] = tonumber(row["final.train_loss"])
      err[#err + 1] = tonumber(row["final.test_error"])
      share[#share + 1] = share_at_kernel10(dir, row)
      s90[#s90 + 1] = tonumber(row["readouts.step_align90"])
      s10[#s10 + 1] = tonumber(row["readouts.step_kernel10"])
    end
    local ma, sa = mean_se(al)
    local ml = mean_se(loss)
    local me, se = mean_se(err)
    local mh, sh = mean_se(share)
    local m90, m10 = mean_se(s90), mean_se(s10)
    lines[#lines + 1] = fmt("| %s | %s | %s | %s | %s | %s | %.1f / %.1f | %s | %s | %.1e | %s | %d |", label(option, v),
      pm(stats[1].m[i], stats[1].se[i]), pm(stats[2].m[i], stats[2].se[i]), pm(stats[3].m[i], stats[3].se[i]),
      pm(ma, sa), pm(mh, sh), m90, m10, count(v, "readouts.silent_timing"), count(v, "verdict.silent"), ml,
      pm(me, se), #sw.by[v])
  end
  -- (e) predictions of the lowest seed of the first value
  local pr = read(dir .. "/" .. first.run .. "/predictions.csv")
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(pr.net) do lo, hi = math.min(lo, x), math.max(hi, x) end
  local scatter = {
    {x = pr.net, y = pr.final_ntk, title = "final NTK", style = "points", color = COLORS[1]},
    {x = pr.net, y = pr.initial_ntk, title = "initial NTK", style = "points", color = COLORS[2]},
    {x = {lo, hi}, y = {lo, hi}, title = "y = x", style = "dashed", color = "#555555"}}
  local title = fmt("Wide-ResNet, Adam, %s, P = %s (sweep over %s)", dataset, tostring(first["data.P"] or "?"), option)
  local ok, err = plot.figure{file = png, title = title, rows = 2, cols = 3, width = 1650, height = 950, panels = {
    {title = "(a) train loss", xlabel = "Adam step", ylabel = "loss", logx = true, logy = true,
      key = "bottom left", series = loss_s},
    {title = "(b) |K|_F (dashed: 10% of final)", xlabel = "Adam step", ylabel = "|K|_F", logx = true, logy = true,
      key = "top left", series = norm_s},
    {title = "(c) centered alignment (dashed: |K| at 10%)", xlabel = "Adam step", ylabel = "alignment (centered)",
      logx = true, key = "bottom right", series = align_s},
    {title = "(d) kernel regression vs net: rel L2 error", xlabel = option, ylabel = "|f_K - f_net| / |f_net|",
      logy = true, key = "top left", series = rel_s},
    {title = "(e) test outputs, " .. label(option, sw.values[1]) .. ", seed " .. tostring(first.seed or 1),
      xlabel = "net", ylabel = "kernel regression", key = "top left", series = scatter},
  }}
  if not ok then error(err, 0) end
  return table.concat(lines, "\n")
end

figure_script.main("wide_resnet", "OUT.png SWEEP_DIR OPTION (gamma, b or k)", function(a)
  if a[1] and a[2] and a[3] then return {a[1], a[2], a[3]} end
end, draw)

return {draw = draw}
