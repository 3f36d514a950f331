-- 23-kernel_badarg: every kernel, regression and metric function raises a clear error naming the
-- function, the argument, and expected vs got.
local ntklab = require "ntklab"

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
    {"ntk: not a net", function() ntklab.ntk(X, X) end, "bad argument #1 to 'ntk'"},
    {"ntk: X width", function() ntklab.ntk(net, ntklab.zeros(5, 4)) end,
     "bad argument #2 to 'ntk' ([P x 3] inputs expected, got [5 x 4])"},
    {"ntk: X2 width", function() ntklab.ntk(net, X, ntklab.zeros(2, 2)) end,
     "bad argument #3 to 'ntk' ([P x 3] inputs expected, got [2 x 2])"},
    {"ntk: empty X", function() ntklab.ntk(net, ntklab.zeros(0, 3)) end,
     "inputs expected, got [0 x 3]"},
    {"ntk: 3rd not tensor/table", function() ntklab.ntk(net, X, 5) end,
     "bad argument #3 to 'ntk' (tensor X2 or option table expected, got number)"},
    {"ntk: unknown option", function() ntklab.ntk(net, X, {outputs = "full"}) end,
     "invalid option 'outputs'"},
    {"ntk: bad output", function() ntklab.ntk(net, X, {output = "diag"}) end,
     "option 'output': \"full\", \"blocks\", \"trace\" or \"mean\" expected, got \"diag\""},
    {"ntk: eta length", function() ntklab.ntk(net, X, {eta = ntklab.zeros(3)}) end,
     "option 'eta': [" .. net:nparams() .. "] (one step per parameter) expected, got [3]"},
    {"ntk: eta negative", function()
       local e = eta:clone(); e:set(2, -1); ntklab.ntk(net, X, {eta = e}) end,
     "option 'eta': entry 2 is -1.0, finite value >= 0 expected"},
    {"ntk: eta type", function() ntklab.ntk(net, X, {eta = 1}) end,
     "option 'eta': tensor expected, got number"},
    {"ntk: tile negative", function() ntklab.ntk(net, X, {tile = -2}) end,
     "option 'tile': integer >= 0 expected, got -2"},
    {"ntk: layers type", function() ntklab.ntk(net, X, {layers = 1}) end,
     "option 'layers': boolean expected, got number"},
    {"ntk: workspace type", function() ntklab.ntk(net, X, {workspace = {}}) end,
     "option 'workspace': kernel_workspace expected, got table"},
    {"ntk: released workspace", function() ntklab.ntk(net, X, {workspace = released}) end,
     "attempt to use a released kernel_workspace"},
    {"ntk: out shape", function() ntklab.ntk(net, X, {out = ntklab.zeros(4, 4)}) end,
     "option 'out': contiguous [10 x 10] expected, got [4 x 4]"},
    {"ntk: out view", function() ntklab.ntk(net, X, {output = "trace", out = ntklab.zeros(5, 5):t()}) end,
     "option 'out': contiguous [5 x 5] expected, got [5 x 5] view"},
    {"ntk: out type", function() ntklab.ntk(net, X, {out = 1}) end,
     "option 'out': tensor expected, got number"},
    {"ntk: extra argument", function() ntklab.ntk(net, X, X, {}, 1) end,
     "bad argument #5 to 'ntk'"},
    {"ntk_reference: bad layer", function() ntklab.ntk_reference(net, X, {layer = 3}) end,
     "option 'layer': integer in [0, 2] expected, got 3"},
    {"ntk_reference: unknown option", function() ntklab.ntk_reference(net, X, {tile = 2}) end,
     "invalid option 'tile'"},
    {"jacobian: X width", function() ntklab.jacobian(net, ntklab.zeros(2, 5)) end,
     "bad argument #2 to 'jacobian' ([P x 3] inputs expected, got [2 x 5])"},
    {"nngp: options", function() ntklab.nngp(net, X, {}) end,
     "bad argument #3 to 'nngp' (no option table expected"},
    {"nngp: not a net", function() ntklab.nngp(nil, X) end, "bad argument #1 to 'nngp'"},
    {"workspace: released", function() released:bytes() end,
     "attempt to use a released kernel_workspace"},
    {"kernel_regression: no table", function() ntklab.kernel_regression(K) end,
     "bad argument #1 to 'kernel_regression' (table expected"},
    {"kernel_regression: missing K", function() ntklab.kernel_regression{y = y} end,
     "option 'K' (a tensor) is required"},
    {"kernel_regression: K not square", function()
       ntklab.kernel_regression{K = ntklab.zeros(5, 4), y = y} end,
     "option 'K': square matrix expected, got [5 x 4]"},
    {"kernel_regression: y rows", function()
       ntklab.kernel_regression{K = K, y = ntklab.zeros(4)} end,
     "option 'y': [5] or [5 x C] expected, got [4]"},
    {"kernel_regression: negative ridge", function()
       ntklab.kernel_regression{K = K, y = y, ridge = -1} end,
     "option 'ridge': finite value >= 0 expected"},
    {"kernel_regression: rcond", function()
       ntklab.kernel_regression{K = K, y = y, rcond = 1} end,
     "option 'rcond': value in [0, 1) expected"},
    {"kernel_regression: unknown option", function()
       ntklab.kernel_regression{K = K, y = y, lambda = 1} end, "invalid option 'lambda'"},
    {"predict: wrong width", function() fit:predict(ntklab.zeros(2, 4)) end,
     "bad argument #1 to 'predict' ([Q x 5] test-by-train kernel expected, got [2 x 4])"},
    {"alignment: K not square", function() ntklab.alignment(ntklab.zeros(5, 4), y) end,
     "bad argument #1 to 'alignment' (square matrix expected, got [5 x 4])"},
    {"alignment: size mismatch", function() ntklab.alignment(ntklab.zeros(4, 4), y) end,
     "kernel of size 4 matches neither P = 5 nor P*C = 5 of targets [5]"},
    {"alignment: bad option", function() ntklab.alignment(K, y, {center = true}) end,
     "invalid option 'center'"},
    {"alignment: centered type", function() ntklab.alignment(K, y, {centered = 1}) end,
     "option 'centered': boolean expected"},
    {"alignment: zero kernel", function() ntklab.alignment(ntklab.zeros(5, 5), y) end,
     "zero kernel: alignment undefined"},
    {"alignment: constant targets centered", function()
       ntklab.alignment(K, ntklab.tensor{1, 1, 1, 1, 1}, {centered = true}) end,
     "bad argument #2 to 'alignment' (constant targets: centered alignment undefined)"},
    {"kernel_norm: not a tensor", function() ntklab.kernel_norm({}) end,
     "bad argument #1 to 'kernel_norm'"},
    {"kernel_trace: not square", function() ntklab.kernel_trace(ntklab.zeros(2, 3)) end,
     "bad argument #1 to 'kernel_trace' (square matrix expected, got [2 x 3])"},
    {"kernel_distance: shapes", function() ntklab.kernel_distance(K, ntklab.zeros(4, 4)) end,
     "bad argument #2 to 'kernel_distance' (shape [5 x 5] expected, got [4 x 4])"},
    {"kernel_distance: zero", function() ntklab.kernel_distance(K, ntklab.zeros(5, 5)) end,
     "bad argument #2 to 'kernel_distance' (zero kernel: distance undefined)"},
    {"kernel_eigs: k range", function() ntklab.kernel_eigs(K, 6) end,
     "bad argument #2 to 'kernel_eigs' (k in [1, 5] expected, got 6)"},
    {"kernel_eigs: k type", function() ntklab.kernel_eigs(K, "a") end,
     "bad argument #2 to 'kernel_eigs' (number expected, got string)"},
    {"effective_rank: zero", function() ntklab.effective_rank(ntklab.zeros(3, 3)) end,
     "zero kernel: effective rank undefined"},
    {"effective_rank: vector", function() ntklab.effective_rank(y) end,
     "bad argument #1 to 'effective_rank' (square matrix expected, got [5])"},
    {"psd_check: tolerance", function() ntklab.psd_check(K, -1) end,
     "bad argument #2 to 'psd_check' (tolerance >= 0 expected)"},
    {"weight_alignment: W vector", function() ntklab.weight_alignment(y, y) end,
     "bad argument #1 to 'weight_alignment' (N x D matrix expected, got [5])"},
    {"weight_alignment: beta size", function()
       ntklab.weight_alignment(ntklab.zeros(2, 3), ntklab.zeros(4)) end,
     "bad argument #2 to 'weight_alignment' ([3] or [r x 3] expected, got [4])"},
    {"weight_alignment: zero teacher", function()
       ntklab.weight_alignment(ntklab.tensor{{1, 0, 0}}, ntklab.zeros(3)) end,
     "bad argument #2 to 'weight_alignment' (zero teacher: cosine undefined)"},
  }

  for _, case in ipairs(cases) do
    it(case[1], function()
      local ok, msg = pcall(case[2])
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find(case[3], 1, true),
                       "expected '" .. case[3] .. "' in '" .. tostring(msg) .. "'")
    end)
  end

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
