--- ntklab.record_schedule: records a training run at times chosen as it goes, dense where the
-- recorded quantities move fast and log-spaced where they do not.
--
--   local n = record_schedule.run{trainer = flow, net = net, X = X, y = y,
--     t_min = 1e-2, t_max = 1e8, per_decade = 20,
--     observe = function(t, loss, net) return {math.log(loss), c / s, cos} end,
--     max_change = 0.02,                       -- or one bound per observed value
--     stop = function(t, loss) return loss < 1e-8 end,
--     progress = function(i, t, loss) end}
--
-- observe is called at t = 0 and then at every record (the trainer hits the record times
-- exactly, like trainer:run's observe); it returns an array of numbers to watch. The next
-- record comes after
--   dt = min( t (10^{1/per_decade} - 1)  [t_min at t = 0],  2 dt_prev,
--             min_k max_change_k / |rate_k| )
-- where rate_k is the watched value k's change over the last record interval divided by its
-- length. A sharp transition after a long plateau (a deep linear net's c(t) blows up like
-- (t* - t)^{-L/(L-2)}) is thus sampled with about one record per max_change of each watched
-- value, however late it comes: log-spaced records alone put a handful of points in it. The
-- rates lag the acceleration by one record, so a record may move a value by a few max_change.
-- Runs until stop returns true (checked after each record), or t_max. Returns the number of
-- records (t = 0 included) and whether stop ended the run.
local check = require "ntklab.argcheck"
check.register()

local record_schedule = {}

local F = "record_schedule.run"
local OPTIONS = {trainer = true, net = true, X = true, y = true, t_min = true, t_max = true,
  per_decade = true, observe = true, max_change = true, stop = true, progress = true}

--- An experiment's options (ntklab.experiment's declarations) followed by the schedule's own:
-- t_min, t_max, per_decade, max_change and stop_ratio (the fraction of the initial loss that ends
-- the run), each with the experiment's changes: options(list, {t_max = {default = 1e12}, ...}).
function record_schedule.options(list, changes)
  local out = {}
  for i, o in ipairs(list) do out[i] = o end
  for _, o in ipairs{
    {name = "t_min", type = "number", default = 1e-2, min = 0, help = "first record time after 0"},
    {name = "t_max", type = "number", default = 1e9, min = 0, help = "give up at this time"},
    {name = "per_decade", type = "integer", default = 10, min = 1, help = "records per decade at least"},
    {name = "max_change", type = "number", default = 0.05, min = 0,
      help = "at most about this change of log loss per record"},
    {name = "stop_ratio", type = "number", default = 1e-8, min = 0, max = 1,
      help = "stop once the loss is below this fraction of its initial value"},
  } do
    for k, v in pairs(changes and changes[o.name] or {}) do o[k] = v end
    out[#out + 1] = o
  end
  return out
end

--- nil when the configuration's record times can be scheduled (0 < t_min < t_max), else why not.
function record_schedule.check_times(cfg)
  if not (cfg.t_max > cfg.t_min and cfg.t_min > 0) then return "need 0 < t_min < t_max" end
end

--- record_schedule.run inside an experiment whose cfg has the options above: records from
-- cfg.t_min to cfg.t_max, cfg.per_decade per decade at least, at most about cfg.max_change per
-- record (opts.max_change instead when given: one bound per watched value), until the loss is
-- below cfg.stop_ratio x loss0; a line of progress per decade of t (ctx.progress, labelled
-- opts.label). A failure of training fails the run (ctx.fail, naming t).
--   opts: trainer, net, X, y, observe, loss0 (the initial loss), label, max_change
-- Returns the number of records and whether the loss reached the stop.
function record_schedule.run_experiment(ctx, cfg, opts)
  local progress = ctx.progress{total = math.ceil(math.log(cfg.t_max / cfg.t_min, 10)), label = opts.label}
  local ok, records, stopped = pcall(record_schedule.run, {trainer = opts.trainer, net = opts.net, X = opts.X,
    y = opts.y, t_min = cfg.t_min, t_max = cfg.t_max, per_decade = cfg.per_decade,
    max_change = opts.max_change or cfg.max_change, observe = opts.observe,
    stop = function(_, loss) return loss <= cfg.stop_ratio * opts.loss0 end,
    progress = function(_, t, loss)
      progress:update(math.max(0, math.floor(math.log(t / cfg.t_min, 10)) + 1), ("t %.3g loss %.3g"):format(t, loss))
    end})
  progress:finish()
  if not ok then ctx.fail("training failed at t = " .. tostring(opts.trainer.t) .. ": " .. tostring(records)) end
  return records, stopped
end

local function watched(values, n)
  if type(values) ~= "table" then
    check.fail(1, F, "option 'observe': must return an array of numbers, returned " .. check.typename(values))
  end
  if n and #values ~= n then
    check.fail(1, F, ("option 'observe': returned %d values, then %d"):format(n, #values))
  end
  for i = 1, #values do
    if type(values[i]) ~= "number" then
      check.fail(1, F, ("option 'observe': value %d is %s, a number expected"):format(i, check.typename(values[i])))
    end
  end
  return values
end

--- record_schedule.run(opts): trains and records at times chosen as it goes (the header).
function record_schedule.run(opts)
  check.table(opts, 1, F)
  check.options(opts, 1, F, OPTIONS)
  for _, k in ipairs{"trainer", "net", "X", "y", "observe"} do
    if opts[k] == nil then check.fail(1, F, "option '" .. k .. "' required") end
  end
  check.fn(opts.observe, 1, F)
  local t_min = check.positive(opts.t_min or 1e-2, 1, F)
  local t_max = check.positive(opts.t_max or 1e8, 1, F)
  if not (t_max > t_min) then check.fail(1, F, ("t_max > t_min expected, got %g <= %g"):format(t_max, t_min)) end
  local per_decade = check.integer(opts.per_decade or 20, 1, F, 1)
  local growth = 10 ^ (1 / per_decade) - 1
  local tr, net, X, y = opts.trainer, opts.net, opts.X, opts.y
  local function bounds(n)
    local mc = opts.max_change or math.huge
    local out = {}
    for k = 1, n do
      local b = type(mc) == "table" and mc[k] or mc
      if type(b) ~= "number" or not (b > 0) then
        check.fail(1, F, ("option 'max_change': positive number expected for value %d, got %s"):format(k, tostring(b)))
      end
      out[k] = b
    end
    return out
  end
  local t = tr.t
  local prev = watched(opts.observe(t, net:loss(X, y), net))
  local bound = bounds(#prev)
  local count, dt_prev, stopped = 1, nil, false
  local rates, raw = nil, nil
  while t < t_max do
    local dt = t > 0 and t * growth or t_min
    if dt_prev then dt = math.min(dt, 2 * dt_prev) end
    if rates then
      for k = 1, #rates do
        if rates[k] > 0 then dt = math.min(dt, bound[k] / rates[k]) end
      end
    end
    local t_next = math.min(t + dt, t_max)
    local values, loss
    tr:run(net, X, y, {t = t_next, observe = {t_next}, observer = function(tt, _, l, nt)
      values, loss = watched(opts.observe(tt, l, nt), #prev), l
    end})
    count = count + 1
    -- A rate that grew over the last interval is extrapolated by the same factor: the next
    -- interval then anticipates a blow-up instead of discovering it one record late.
    local last = raw
    raw, rates = {}, {}
    for k = 1, #values do
      local r = math.abs(values[k] - prev[k]) / (t_next - t)
      local grown = last and last[k] > 0 and r / last[k] or 1
      raw[k], rates[k] = r, r * math.min(math.max(grown, 1), 10)
    end
    dt_prev, t, prev = t_next - t, t_next, values
    if opts.progress then opts.progress(count, t, loss) end
    if opts.stop and opts.stop(t, loss) then stopped = true break end
  end
  return count, stopped
end

return record_schedule
