-- 12-mlp_train_badargs: every binding function of ntklab.mlp and ntklab.train raises a clear
-- error, naming the function and the argument, on bad input.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

local net = ntklab.mlp{widths = {3, 4, 2}, seed = 1}
local nobias = net
local X = ntklab.zeros(5, 3)
local Y = ntklab.zeros(5, 2)
local gd = ntklab.train.gd{lr = 0.1}
local function released_net()
  local n = ntklab.mlp{widths = {3, 2}, seed = 1}
  n:release()
  return n
end
local function released_trainer()
  local t = ntklab.train.gd{lr = 1}
  t:release()
  return t
end

local cases = {
  -- ntklab.mlp
  {"mlp without table", function() ntklab.mlp() end, "bad argument #1 to 'mlp' (table expected, got no value)"},
  {"mlp unknown option", function() ntklab.mlp{widths = {2, 1}, seed = 1, depth = 3} end, "invalid option 'depth'"},
  {"mlp without widths", function() ntklab.mlp{seed = 1} end, "option 'widths': table {D, n1, ..., C} expected, got nil"},
  {"mlp one width", function() ntklab.mlp{widths = {3}, seed = 1} end, "option 'widths': 2 to 65 entries expected, got 1"},
  {"mlp zero width", function() ntklab.mlp{widths = {3, 0, 1}, seed = 1} end, "option 'widths': entry 2: integer in [1, 2^24] expected"},
  {"mlp fractional width", function() ntklab.mlp{widths = {3, 1.5}, seed = 1} end, "entry 2: integer in [1, 2^24] expected"},
  {"mlp unknown activation", function() ntklab.mlp{widths = {3, 4, 1}, activation = "sigmoid", seed = 1} end, "option 'activation': expected one of 'linear', 'relu', 'tanh', 'erf', 'gelu', 'softplus', 'quadratic', got 'sigmoid'"},
  {"mlp near-miss option", function() ntklab.mlp{widhts = {2, 1}, seed = 1} end, "invalid option 'widhts' (did you mean 'widths'?); valid options: 'widths', 'activation', 'bias', 'param', 'sigma', 'bias_sigma', 'init', 'seed', 'rng'"},
  {"mlp near-miss activation", function() ntklab.mlp{widths = {3, 4, 1}, activation = "Tanh", seed = 1} end, "got 'Tanh' (did you mean 'tanh'?)"},
  {"mlp activation count", function() ntklab.mlp{widths = {3, 4, 1}, activation = {"relu", "tanh"}, seed = 1} end, "option 'activation': 1 names expected (one per hidden layer), got 2"},
  {"mlp activation type", function() ntklab.mlp{widths = {3, 4, 1}, activation = 3, seed = 1} end, "option 'activation': name or table expected, got number"},
  {"mlp bias type", function() ntklab.mlp{widths = {3, 1}, bias = 1, seed = 1} end, "option 'bias': boolean expected, got number"},
  {"mlp param", function() ntklab.mlp{widths = {3, 1}, param = "mup", seed = 1} end, "option 'param': expected one of 'standard', 'ntk', got 'mup'"},
  {"mlp init", function() ntklab.mlp{widths = {3, 1}, init = "xavier", seed = 1} end, "option 'init': expected one of 'gaussian', 'orthogonal', 'balanced', got 'xavier'"},
  {"mlp sigma negative", function() ntklab.mlp{widths = {3, 1}, sigma = -1, seed = 1} end, "sigma of layer 1: finite value >= 0 expected"},
  {"mlp sigma count", function() ntklab.mlp{widths = {3, 2, 1}, sigma = {1}, seed = 1} end, "option 'sigma': 2 numbers expected (one per layer), got 1"},
  {"mlp sigma nan", function() ntklab.mlp{widths = {3, 1}, sigma = 0 / 0, seed = 1} end, "sigma of layer 1: finite value >= 0 expected"},
  {"mlp bias_sigma", function() ntklab.mlp{widths = {3, 1}, bias_sigma = "x", seed = 1} end, "option 'bias_sigma': number expected, got string"},
  {"mlp no seed", function() ntklab.mlp{widths = {3, 1}} end, "exactly one of the options 'seed' and 'rng' expected"},
  {"mlp seed and rng", function() ntklab.mlp{widths = {3, 1}, seed = 1, rng = ntklab.rng(1)} end, "exactly one of the options 'seed' and 'rng' expected"},
  {"mlp rng type", function() ntklab.mlp{widths = {3, 1}, rng = 5} end, "option 'rng': ntklab.rng expected, got number"},
  {"mlp balanced sigmas", function() ntklab.mlp{widths = {3, 3, 1}, init = "balanced", sigma = {1, 2}, seed = 1} end, "balanced init needs one sigma for all layers"},
  -- methods
  {"forward no X", function() net:forward() end, "bad argument #1 to 'forward' (ntklab.tensor expected, got nil)"},
  {"forward X cols", function() net:forward(ntklab.zeros(5, 4)) end, "bad argument #1 to 'forward' ([P x 3] expected, got [5 x 4])"},
  {"forward X 1-D", function() net:forward(ntklab.zeros(3)) end, "([P x 3] expected, got [3])"},
  {"forward out shape", function() net:forward(X, ntklab.zeros(5, 3)) end, "bad argument #2 to 'forward' (contiguous [5 x 2] expected, got [5 x 3])"},
  {"forward out strided", function() net:forward(X, ntklab.zeros(2, 5):t()) end, "contiguous [5 x 2] expected, got [5 x 2]"},
  {"forward released", function() released_net():forward(X) end, "attempt to use a released mlp"},
  {"forward not a net", function() net.forward(X, X) end, "bad argument #1 to 'forward' (ntklab.mlp expected, got ntklab.tensor)"},
  {"loss Y cols", function() net:loss(X, ntklab.zeros(5, 3)) end, "bad argument #2 to 'loss' ([P x 2] expected, got [5 x 3])"},
  {"loss Y rows", function() net:loss(X, ntklab.zeros(4, 2)) end, "bad argument #2 to 'loss' (5 rows expected (as X), got 4)"},
  {"loss 1-D Y with C = 2", function() net:loss(X, ntklab.zeros(5)) end, "([P x 2] expected, got [5])"},
  {"grad out shape", function() net:grad(X, Y, ntklab.zeros(3)) end, "bad argument #3 to 'grad' (contiguous [" .. net:nparams() .. "] expected, got [3])"},
  {"grad Y missing", function() net:grad(X) end, "bad argument #2 to 'grad' (ntklab.tensor expected, got nil)"},
  {"weight layer 0", function() net:weight(0) end, "bad argument #1 to 'weight' (layer 0 out of range [1, 2])"},
  {"weight layer 3", function() net:weight(3) end, "layer 3 out of range [1, 2]"},
  {"weight layer type", function() net:weight("a") end, "bad argument #1 to 'weight' (number expected, got string)"},
  {"bias without biases", function() nobias:bias(1) end, "this mlp has no biases (created with bias = false)"},
  {"bias layer range", function() ntklab.mlp{widths = {2, 1}, bias = true, seed = 1}:bias(2) end, "layer 2 out of range [1, 1]"},
  {"get out shape", function() net:get(ntklab.zeros(2)) end, "bad argument #1 to 'get' (contiguous [" .. net:nparams() .. "] expected, got [2])"},
  {"set shape", function() net:set(ntklab.zeros(2)) end, "bad argument #1 to 'set' ([" .. net:nparams() .. "] expected, got [2])"},
  {"set 2-D", function() net:set(ntklab.zeros(2, 2)) end, "expected, got [2 x 2]"},
  {"set type", function() net:set({1, 2}) end, "bad argument #1 to 'set' (ntklab.tensor expected, got table)"},
  {"save path type", function() net:save({}) end, "bad argument #1 to 'save' (string expected, got table)"},
  {"mlp_load path type", function() ntklab.mlp_load() end, "bad argument #1 to 'mlp_load' (string expected, got no value)"},
  {"params released", function() released_net():params() end, "attempt to use a released mlp"},
  {"layers released", function() released_net():layers() end, "attempt to use a released mlp"},
  {"clone released", function() released_net():clone() end, "attempt to use a released mlp"},
  {"config released", function() released_net():config() end, "attempt to use a released mlp"},
  {"nparams released", function() released_net():nparams() end, "attempt to use a released mlp"},
  {"depth released", function() released_net():depth() end, "attempt to use a released mlp"},
  {"widths released", function() released_net():widths() end, "attempt to use a released mlp"},
  -- ntklab.train constructors
  {"gd without lr", function() ntklab.train.gd{} end, "bad argument #1 to 'gd' (option 'lr': number expected, got nil)"},
  {"gd lr <= 0", function() ntklab.train.gd{lr = 0} end, "bad argument #1 to 'gd' (lr > 0 expected, got 0)"},
  {"gd lr inf", function() ntklab.train.gd{lr = math.huge} end, "lr > 0 expected, got inf"},
  {"gd unknown option", function() ntklab.train.gd{lr = 1, momentum = 0.9} end, "invalid option 'momentum'"},
  {"gd no table", function() ntklab.train.gd(0.1) end, "bad argument #1 to 'gd' (table expected, got number)"},
  {"flow method", function() ntklab.train.flow{method = "euler"} end, "option 'method': expected one of 'rk4', 'rk45', got 'euler'"},
  {"flow rk4 dt missing", function() ntklab.train.flow{method = "rk4"} end, "option 'dt': number expected, got nil"},
  {"flow rk4 dt negative", function() ntklab.train.flow{method = "rk4", dt = -1} end, "dt > 0 expected, got -1"},
  {"flow rk4 rtol", function() ntklab.train.flow{method = "rk4", dt = 1, rtol = 1e-6} end, "options 'rtol' and 'atol' belong to method 'rk45'"},
  {"flow rk45 dt", function() ntklab.train.flow{dt = 0.1} end, "option 'dt' belongs to method 'rk4'"},
  {"flow rk45 rtol", function() ntklab.train.flow{rtol = 0} end, "rtol > 0 expected, got 0"},
  {"flow rk45 atol", function() ntklab.train.flow{atol = -1} end, "atol > 0 expected, got -1"},
  {"flow rk45 atol 0", function() ntklab.train.flow{atol = 0} end, "atol > 0 expected, got 0"},
  {"flow rk45 h0", function() ntklab.train.flow{h0 = -1} end, "h0 >= 0 expected, got -1"},
  {"flow unknown option", function() ntklab.train.flow{lr = 1} end, "invalid option 'lr'"},
  {"sgd momentum", function() ntklab.train.sgd{lr = 1, momentum = 1} end, "momentum in [0, 1) expected, got 1"},
  {"sgd batch", function() ntklab.train.sgd{lr = 1, batch = -2} end, "option 'batch': size >= 0 expected, got -2"},
  {"sgd seed type", function() ntklab.train.sgd{lr = 1, seed = "x"} end, "option 'seed': integer expected, got string"},
  {"adam beta1", function() ntklab.train.adam{lr = 1, beta1 = 1} end, "beta1 in [0, 1) expected, got 1"},
  {"adam beta2", function() ntklab.train.adam{lr = 1, beta2 = -0.1} end, "beta2 in [0, 1) expected, got -0.1"},
  {"adam eps", function() ntklab.train.adam{lr = 1, eps = 0} end, "eps > 0 expected, got 0"},
  {"adam without lr", function() ntklab.train.adam{} end, "option 'lr': number expected, got nil"},
  -- trainer methods
  {"step no net", function() gd:step() end, "bad argument #1 to 'step' (ntklab.mlp or ntklab.model expected, got nil)"},
  {"step X shape", function() gd:step(net, ntklab.zeros(5, 2), Y) end, "bad argument #2 to 'step' ([P x 3] expected, got [5 x 2])"},
  {"step Y rows", function() gd:step(net, X, ntklab.zeros(3, 2)) end, "bad argument #3 to 'step' (5 rows expected (as X), got 3)"},
  {"step released net", function() gd:step(released_net(), X, Y) end, "attempt to use a released mlp"},
  {"step released trainer", function() released_trainer():step(net, X, Y) end, "attempt to use a released trainer"},
  {"run no options", function() gd:run(net, X, Y) end, "bad argument #4 to 'run' (table expected, got nil)"},
  {"run no end", function() gd:run(net, X, Y, {}) end, "bad argument #4 to 'run' (option 't' or 'steps' expected)"},
  {"run unknown option", function() gd:run(net, X, Y, {t = 1, dt = 2}) end, "invalid option 'dt'"},
  {"run t in the past", function() gd:run(net, X, Y, {t = -1}) end, "option 't': finite time >= the current t"},
  {"run t infinite", function() gd:run(net, X, Y, {t = math.huge}) end, "option 't': finite time >= the current t"},
  {"run steps negative", function() gd:run(net, X, Y, {steps = -1}) end, "option 'steps': count >= 0 expected, got -1"},
  {"run observe type", function() gd:run(net, X, Y, {t = 1, observe = 3}) end, "option 'observe': table of times expected, got number"},
  {"run observe order", function() gd:run(net, X, Y, {t = 1, observe = {0.5, 0.2}, observer = print}) end, "option 'observe': ascending times in [t, T] expected, got 0.2"},
  {"run observe beyond T", function() gd:run(net, X, Y, {t = 1, observe = {2}, observer = print}) end, "ascending times in [t, T] expected, got 2"},
  {"run observe entry", function() gd:run(net, X, Y, {t = 1, observe = {"a"}, observer = print}) end, "option 'observe': number expected at [1]"},
  {"run observer missing", function() gd:run(net, X, Y, {t = 1, observe = {0.5}}) end, "option 'observer': function expected with 'observe'"},
  {"run observer raises", function() ntklab.train.gd{lr = 0.1}:run(net, X, Y, {t = 1, observe = {0.5}, observer = function() error("stop here") end}) end, "stop here"},
  {"effective_lr no net", function() gd:effective_lr() end, "bad argument #1 to 'effective_lr' (ntklab.mlp or ntklab.model expected, got no value)"},
  {"effective_lr out shape", function() gd:effective_lr(net, ntklab.zeros(1)) end, "bad argument #2 to 'effective_lr' (contiguous [" .. net:nparams() .. "] expected, got [1])"},
  {"effective_lr other net", function()
    local t = ntklab.train.gd{lr = 1}
    t:step(net, X, Y)
    t:effective_lr(ntklab.mlp{widths = {2, 1}, seed = 1})
  end, "bad argument #1 to 'effective_lr' (net with " .. net:nparams() .. " parameters expected (the trainer's), got 2)"},
  {"reset released", function() released_trainer():reset() end, "attempt to use a released trainer"},
  {"settings released", function() released_trainer():settings() end, "attempt to use a released trainer"},
  {"field of released", function() return released_trainer().t end, "attempt to use a released trainer"},
}

-- The registry name of the function each row exercises, from the row's first word.
local MODULE_FUNCTIONS = {mlp = "ntklab.mlp", mlp_load = "ntklab.mlp_load", gd = "ntklab.train.gd",
                          sgd = "ntklab.train.sgd", adam = "ntklab.train.adam", flow = "ntklab.train.flow"}
local TRAINER_METHODS = {step = true, run = true, effective_lr = true, reset = true, settings = true}
local function registry_name(desc)
  local word = desc:match("^(%S+)")
  if MODULE_FUNCTIONS[word] then return MODULE_FUNCTIONS[word] end
  if word == "field" then return "trainer:settings" end -- reading a field goes through the same check
  return (TRAINER_METHODS[word] and "trainer:" or "mlp:") .. word
end

describe("bad arguments to mlp and train bindings", function()
  local rows = {}
  for i, case in ipairs(cases) do rows[i] = {registry_name(case[1]), case[2], case[3]} end
  rows[#rows + 1] = {"mlp:release", function() net.release(42) end, "ntklab.mlp expected, got number"}
  rows[#rows + 1] = {"trainer:release", function() gd.release(net) end, "ntklab.trainer expected, got ntklab.mlp"}
  bad_args.cases(it, rows)

  it("release is idempotent and tostring works on released objects", function()
    local n = ntklab.mlp{widths = {2, 1}, seed = 1}
    n:release()
    n:release()
    assert.are.equal("ntklab.mlp (released)", tostring(n))
    local t = ntklab.train.gd{lr = 1}
    t:release()
    t:release()
    assert.are.equal("ntklab.trainer (released)", tostring(t))
    do
      local c <close> = ntklab.mlp{widths = {2, 1}, seed = 1}
      local d <close> = ntklab.train.adam{lr = 1}
    end
  end)
end)
