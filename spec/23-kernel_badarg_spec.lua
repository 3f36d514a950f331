-- 23-kernel_badarg: every kernel, regression and metric function raises a clear error naming the
-- function, the argument, and expected vs got.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

describe("kernel functions reject bad arguments", function()
  local net = ntklab.mlp{widths = {3, 4, 2}, activation = "tanh", seed = 1}
  local X = ntklab.rng(1):normal(5, 3)
  local K = ntklab.ntk(net, X, {output = "trace"})
  local y = ntklab.rng(2):normal(5)
  local fit = ntklab.kernel_regression{K = K, y = y, ridge = 0.1}
  local ws = ntklab.kernel_workspace()
  local released = ntklab.kernel_workspace()
  released:release()
  local eta = ntklab.zeros(net:nparams())

  local cases = {
    {"ntklab.ntk", function() ntklab.ntk(X, X) end, "bad argument #1 to 'ntk'"},
    {"ntklab.ntk", function() ntklab.ntk(net, ntklab.zeros(5, 4)) end,
     "bad argument #2 to 'ntk' ([P x 3] inputs expected, got [5 x 4])"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, ntklab.zeros(2, 2)) end,
     "bad argument #3 to 'ntk' ([P x 3] inputs expected, got [2 x 2])"},
    {"ntklab.ntk", function() ntklab.ntk(net, ntklab.zeros(0, 3)) end,
     "inputs expected, got [0 x 3]"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, 5) end,
     "bad argument #3 to 'ntk' (tensor X2 or option table expected, got number)"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {outputs = "full"}) end,
     "invalid option 'outputs'"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {output = "diag"}) end,
     "option 'output': expected one of 'full', 'blocks', 'trace', 'mean', got 'diag'"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {eta = ntklab.zeros(3)}) end,
     "option 'eta': [" .. net:nparams() .. "] (one step per parameter) expected, got [3]"},
    {"ntklab.ntk", function()
       local e = eta:clone(); e:set(2, -1); ntklab.ntk(net, X, {eta = e}) end,
     "option 'eta': entry 2 is -1.0, finite value >= 0 expected"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {eta = 1}) end,
     "option 'eta': tensor expected, got number"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {tile = -2}) end,
     "option 'tile': integer >= 0 expected, got -2"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {layers = 1}) end,
     "option 'layers': boolean or table of 2 tensors expected, got number"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {layers = {ntklab.zeros(10, 10)}}) end,
     "option 'layers': table of 2 tensors (one per layer) expected, got 1 entries"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {layers = {ntklab.zeros(10, 10), 2}}) end,
     "option 'layers[2]': tensor expected, got number"},
    {"ntklab.ntk", function()
       ntklab.ntk(net, X, {output = "trace", layers = {ntklab.zeros(5, 5), ntklab.zeros(5, 4)}}) end,
     "option 'layers[2]': contiguous [5 x 5] expected, got [5 x 4]"},
    {"ntklab.ntk", function()
       local B = ntklab.zeros(5, 10)
       ntklab.ntk(net, X, {output = "trace", layers = {B:narrow(2, 1, 5), ntklab.zeros(5, 5)}}) end,
     "option 'layers[1]': contiguous [5 x 5] expected, got [5 x 5] view"},
    {"ntklab.ntk", function()
       local B = ntklab.zeros(5, 5)
       ntklab.ntk(net, X, {output = "trace", layers = {B, B}}) end,
     "option 'layers[2]': a tensor not sharing memory with layers[1] expected"},
    {"ntklab.ntk", function()
       local B = ntklab.zeros(5, 5)
       ntklab.ntk(net, X, {output = "trace", out = B, layers = {ntklab.zeros(5, 5), B}}) end,
     "option 'layers[2]': a tensor not sharing memory with the kernel expected"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {workspace = {}}) end,
     "option 'workspace': kernel_workspace expected, got table"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {workspace = released}) end,
     "attempt to use a released kernel_workspace"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {out = ntklab.zeros(4, 4)}) end,
     "option 'out': contiguous [10 x 10] expected, got [4 x 4]"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {output = "trace", out = ntklab.zeros(5, 5):t()}) end,
     "option 'out': contiguous [5 x 5] expected, got [5 x 5] view"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, {out = 1}) end,
     "option 'out': tensor expected, got number"},
    {"ntklab.ntk", function() ntklab.ntk(net, X, X, {}, 1) end,
     "bad argument #5 to 'ntk'"},
    {"ntklab.ntk_reference", function() ntklab.ntk_reference(net, X, {layer = 3}) end,
     "option 'layer': integer in [0, 2] expected, got 3"},
    {"ntklab.ntk_reference", function() ntklab.ntk_reference(net, X, {tile = 2}) end,
     "invalid option 'tile'"},
    {"ntklab.jacobian", function() ntklab.jacobian(net, ntklab.zeros(2, 5)) end,
     "bad argument #2 to 'jacobian' ([P x 3] inputs expected, got [2 x 5])"},
    {"ntklab.nngp", function() ntklab.nngp(net, X, {}) end,
     "bad argument #3 to 'nngp' (no option table expected"},
    {"ntklab.nngp", function() ntklab.nngp(nil, X) end, "bad argument #1 to 'nngp'"},
    {"kernel_workspace:bytes", function() released:bytes() end,
     "attempt to use a released kernel_workspace"},
    {"ntklab.kernel_regression", function() ntklab.kernel_regression(K) end,
     "bad argument #1 to 'kernel_regression' (table expected"},
    {"ntklab.kernel_regression", function() ntklab.kernel_regression{y = y} end,
     "option 'K' (a tensor) is required"},
    {"ntklab.kernel_regression", function()
       ntklab.kernel_regression{K = ntklab.zeros(5, 4), y = y} end,
     "option 'K': square matrix expected, got [5 x 4]"},
    {"ntklab.kernel_regression", function()
       ntklab.kernel_regression{K = K, y = ntklab.zeros(4)} end,
     "option 'y': [5] or [5 x C] expected, got [4]"},
    {"ntklab.kernel_regression", function()
       ntklab.kernel_regression{K = K, y = y, ridge = -1} end,
     "option 'ridge': finite value >= 0 expected"},
    {"ntklab.kernel_regression", function()
       ntklab.kernel_regression{K = K, y = y, rcond = 1} end,
     "option 'rcond': value in [0, 1) expected"},
    {"ntklab.kernel_regression", function()
       ntklab.kernel_regression{K = K, y = y, lambda = 1} end, "invalid option 'lambda'"},
    {"kernel_regression:predict", function() fit:predict(ntklab.zeros(2, 4)) end,
     "bad argument #1 to 'predict' ([Q x 5] test-by-train kernel expected, got [2 x 4])"},
    {"ntklab.alignment", function() ntklab.alignment(ntklab.zeros(5, 4), y) end,
     "bad argument #1 to 'alignment' (square matrix expected, got [5 x 4])"},
    {"ntklab.alignment", function() ntklab.alignment(ntklab.zeros(4, 4), y) end,
     "kernel of size 4 matches neither P = 5 nor P*C = 5 of targets [5]"},
    {"ntklab.alignment", function() ntklab.alignment(K, y, {center = true}) end,
     "invalid option 'center'"},
    {"ntklab.alignment", function() ntklab.alignment(K, y, {centered = 1}) end,
     "option 'centered': boolean expected"},
    {"ntklab.alignment", function() ntklab.alignment(ntklab.zeros(5, 5), y) end,
     "zero kernel: alignment undefined"},
    {"ntklab.alignment", function()
       ntklab.alignment(K, ntklab.tensor{1, 1, 1, 1, 1}, {centered = true}) end,
     "bad argument #2 to 'alignment' (constant targets: centered alignment undefined)"},
    {"ntklab.kernel_norm", function() ntklab.kernel_norm({}) end,
     "bad argument #1 to 'kernel_norm'"},
    {"ntklab.kernel_trace", function() ntklab.kernel_trace(ntklab.zeros(2, 3)) end,
     "bad argument #1 to 'kernel_trace' (square matrix expected, got [2 x 3])"},
    {"ntklab.kernel_distance", function() ntklab.kernel_distance(K, ntklab.zeros(4, 4)) end,
     "bad argument #2 to 'kernel_distance' (shape [5 x 5] expected, got [4 x 4])"},
    {"ntklab.kernel_distance", function() ntklab.kernel_distance(K, ntklab.zeros(5, 5)) end,
     "bad argument #2 to 'kernel_distance' (zero kernel: distance undefined)"},
    {"ntklab.kernel_eigs", function() ntklab.kernel_eigs(K, 6) end,
     "bad argument #2 to 'kernel_eigs' (k in [1, 5] expected, got 6)"},
    {"ntklab.kernel_eigs", function() ntklab.kernel_eigs(K, "a") end,
     "bad argument #2 to 'kernel_eigs' (number expected, got string)"},
    {"ntklab.effective_rank", function() ntklab.effective_rank(ntklab.zeros(3, 3)) end,
     "zero kernel: effective rank undefined"},
    {"ntklab.effective_rank", function() ntklab.effective_rank(y) end,
     "bad argument #1 to 'effective_rank' (square matrix expected, got [5])"},
    {"ntklab.psd_check", function() ntklab.psd_check(K, -1) end,
     "bad argument #2 to 'psd_check' (tolerance >= 0 expected)"},
    {"ntklab.weight_alignment", function() ntklab.weight_alignment(y, y) end,
     "bad argument #1 to 'weight_alignment' (N x D matrix expected, got [5])"},
    {"ntklab.weight_alignment", function()
       ntklab.weight_alignment(ntklab.zeros(2, 3), ntklab.zeros(4)) end,
     "bad argument #2 to 'weight_alignment' ([3] or [r x 3] expected, got [4])"},
    {"ntklab.weight_alignment", function()
       ntklab.weight_alignment(ntklab.tensor{{1, 0, 0}}, ntklab.zeros(3)) end,
     "bad argument #2 to 'weight_alignment' (zero teacher: cosine undefined)"},
    {"ntklab.kernel_workspace", function() ntklab.kernel_workspace(1) end,
     "bad argument #1 to 'kernel_workspace' (no arguments expected)"},
    {"kernel_workspace:hits", function() ws.hits(5) end,
     "bad argument #1 to 'hits' (ntklab.kernel_workspace expected, got number)"},
    {"kernel_workspace:clear", function() ws.clear({}) end,
     "bad argument #1 to 'clear' (ntklab.kernel_workspace expected, got table)"},
    {"kernel_workspace:release", function() ws.release(X) end,
     "bad argument #1 to 'release' (ntklab.kernel_workspace expected, got ntklab.tensor)"},
    {"kernel_regression:release", function() fit.release(ws) end,
     "bad argument #1 to 'release' (ntklab.kernel_regression expected, got ntklab.kernel_workspace)"},
    {"ntklab.clock", function() ntklab.clock(0) end, "bad argument #1 to 'clock' (no arguments expected)"},
  }

  bad_args.cases(it, cases)

  it("numerical failures return nil, msg", function()
    local bad = ntklab.tensor{{1, 0}, {0, math.huge}}
    local r, msg = ntklab.kernel_eigs(bad, 1)
    assert.is_nil(r)
    assert.matches("not finite", msg)
    r, msg = ntklab.psd_check(bad)
    assert.is_nil(r)
    assert.matches("not finite", msg)
  end)
end)
