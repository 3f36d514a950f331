-- 26-model_ntk: the empirical NTK of any model (ntklab.model_ntk): per-sample gradients in
-- tiles, Gram by syrk/gemm, against the explicit J J^T twin (ntklab.model_ntk_reference) and
-- against a Jacobian built in plain Lua from m:jacobian; every layout, the per-layer split,
-- Adam's eta-weighted kernel (Eq. 91), test x train, strided inputs, and bad arguments.
local ntklab = require "ntklab"
local bad_args = require "spec.support.bad_args"

-- The fast kernel against explicit J J^T: the same products summed in another order (the
-- issue's bound for a small ResNet).
local NTK_REL_TOL = 1e-12

local function randn(seed, rows, cols) return ntklab.rng(seed):normal(rows, cols) end

local function rel(A, B) return (A - B):abs():max() / B:abs():max() end

local function resnet(C)
  return ntklab.wide_resnet{k = 1, b = 1, outputs = C, input = {2, 6, 6}, seed = 3, bias = true}
end

describe("model_ntk", function()
  local X1, X2 = randn(1, 5, 72), randn(2, 3, 72)

  it("equals the explicit J J^T of a Wide-ResNet (k = 1, b = 1) to 1e-12, every tile", function()
    local m = resnet(1)
    local R = ntklab.model_ntk_reference(m, X1)
    for _, tile in ipairs{0, 1, 2, 5, 100} do
      assert.is_true(rel(ntklab.model_ntk(m, X1, {tile = tile}), R) <= NTK_REL_TOL, "tile " .. tile)
    end
    -- and the twin against m:jacobian multiplied out here
    local J = m:jacobian(X1)
    assert.is_true(rel(ntklab.matmul(J, J:t()), R) <= NTK_REL_TOL)
    -- symmetric and positive semi-definite
    local K = ntklab.model_ntk(m, X1, {tile = 2})
    assert.are.equal(0, (K - K:t()):abs():max())
  end)

  for _, output in ipairs{"full", "blocks", "trace", "mean"} do
    it(output .. " layout, 2 outputs, train x train and test x train, per-layer split", function()
      local m = resnet(2)
      for _, X in ipairs{false, true} do
        local x2 = X and X2 or nil
        local K, layers
        if x2 then
          K, layers = ntklab.model_ntk(m, X1, x2, {output = output, layers = true, tile = 2})
        else
          K, layers = ntklab.model_ntk(m, X1, {output = output, layers = true, tile = 2})
        end
        local R = x2 and ntklab.model_ntk_reference(m, X1, x2, {output = output})
                     or ntklab.model_ntk_reference(m, X1, {output = output})
        assert.is_true(rel(K, R) <= NTK_REL_TOL)
        assert.are.equal(#m:groups(), #layers)
        local sum = layers[1]:clone()
        for g = 2, #layers do sum:add_(layers[g]) end
        assert.is_true(rel(sum, K) <= NTK_REL_TOL)
        for g = 1, #layers do
          local Rg = x2 and ntklab.model_ntk_reference(m, X1, x2, {output = output, layer = g})
                        or ntklab.model_ntk_reference(m, X1, {output = output, layer = g})
          assert.is_true((layers[g] - Rg):abs():max() <= NTK_REL_TOL * R:abs():max())
        end
      end
    end)
  end

  it("Adam's kernel: eta-weighted, J diag(eta) J^T", function()
    local m = resnet(1)
    local eta = ntklab.rng(9):uniform(m:nparams(), 1)
    eta = eta:reshape(m:nparams())
    local K = ntklab.model_ntk(m, X1, X2, {eta = eta, tile = 2})
    local J1, J2 = m:jacobian(X1), m:jacobian(X2)
    local want = ntklab.matmul(J1 * eta:reshape(1, m:nparams()), J2:t())
    assert.is_true(rel(K, want) <= NTK_REL_TOL)
    assert.is_true(rel(K, ntklab.model_ntk_reference(m, X1, X2, {eta = eta})) <= NTK_REL_TOL)
    -- eta = 1 is the NTK
    local ones = ntklab.ones(m:nparams())
    assert.is_true(rel(ntklab.model_ntk(m, X1, {eta = ones}), ntklab.model_ntk(m, X1)) <= NTK_REL_TOL)
  end)

  it("keeps its Jacobian tiles in the model: later calls, any order, give the same bits", function()
    local m = resnet(2)
    local before = m:cache_bytes()
    local K1 = ntklab.model_ntk(m, X1, {tile = 2})       -- 2 tiles of 2 samples x 2 outputs
    local grown = m:cache_bytes()
    -- at least the tiles (the net's activation caches for 2 samples grow too)
    assert.is_true(grown >= before + 2 * 2 * 2 * m:nparams() * 8)
    local Kx = ntklab.model_ntk(m, X1, X2, {tile = 0})   -- larger: 5 + 5 samples, grows once
    assert.is_true(m:cache_bytes() > grown)
    local eta = ntklab.rng(9):uniform(m:nparams(), 1):reshape(m:nparams())
    local Ke = ntklab.model_ntk(m, X1, {tile = 2, eta = eta}) -- smaller: leaves stale rows behind
    -- a fresh model (fresh tiles) with the same seed gives the same bits for each
    local fresh = function() return resnet(2) end
    assert.are.equal(0, (K1 - ntklab.model_ntk(fresh(), X1, {tile = 2})):abs():max())
    assert.are.equal(0, (Kx - ntklab.model_ntk(fresh(), X1, X2, {tile = 0})):abs():max())
    assert.are.equal(0, (Ke - ntklab.model_ntk(fresh(), X1, {tile = 2, eta = eta})):abs():max())
    assert.are.equal(0, (K1 - ntklab.model_ntk(m, X1, {tile = 2})):abs():max())
    -- clear_caches gives the memory back; the caches grow again, with the same bits
    assert.are.equal(m, m:clear_caches())
    assert.are.equal(0, m:cache_bytes())
    assert.are.equal(0, (Kx - ntklab.model_ntk(m, X1, X2, {tile = 0})):abs():max())
    assert.is_true(m:cache_bytes() > 0)
    -- a backward pass needs a forward pass of its own after a clear
    m:forward(X1)
    m:clear_caches()
    local ok, err = pcall(m.backward, m, ntklab.ones(5, 2))
    assert.is_false(ok)
    assert.matches("forward", tostring(err))
  end)

  it("every block of a tiled kernel is, bit for bit, the kernel of its two tiles", function()
    -- the tile pairs run in an order that reuses a held tile; each block is still one Gram of
    -- the same two Jacobian tiles (X1: 5 samples in tiles of 2, 2, 1; X2: 3 in 2, 1)
    local m = resnet(1)
    local K, Kx = ntklab.model_ntk(m, X1, {tile = 2}), ntklab.model_ntk(m, X1, X2, {tile = 2})
    local tiles1, tiles2 = {{1, 2}, {3, 2}, {5, 1}}, {{1, 2}, {3, 1}}
    for _, a in ipairs(tiles1) do
      local A = X1:narrow(1, a[1], a[2])
      for _, b in ipairs(tiles1) do
        if b[1] >= a[1] then
          local want = b[1] == a[1] and ntklab.model_ntk(m, A)
                       or ntklab.model_ntk(m, A, X1:narrow(1, b[1], b[2]))
          local got = K:narrow(1, a[1], a[2]):narrow(2, b[1], b[2])
          assert.are.equal(0, (got - want):abs():max(), ("block %d, %d"):format(a[1], b[1]))
        end
      end
      for _, b in ipairs(tiles2) do
        local want = ntklab.model_ntk(m, A, X2:narrow(1, b[1], b[2]))
        local got = Kx:narrow(1, a[1], a[2]):narrow(2, b[1], b[2])
        assert.are.equal(0, (got - want):abs():max(), ("test block %d, %d"):format(a[1], b[1]))
      end
    end
  end)

  it("strided inputs (views) give the kernel of their contiguous copies", function()
    local m = resnet(1)
    local wide = randn(4, 5, 80)
    local view = wide:narrow(2, 5, 72)
    local T = randn(5, 72, 3)
    local K = ntklab.model_ntk(m, view, T:t(), {tile = 2})
    assert.is_true(rel(K, ntklab.model_ntk_reference(m, view:contiguous(), T:t():contiguous()))
                   <= NTK_REL_TOL)
  end)
end)

describe("an MLP behind the model interface", function()
  it("its fast NTK (the MLP's per-layer Grams), the generic tiled path and ntklab.ntk agree", function()
    local net = ntklab.mlp{widths = {4, 7, 5, 2}, activation = "tanh", bias = true, seed = 2}
    local m = ntklab.model_from_mlp(net)
    assert.are.equal("ntklab.model (mlp, 0 layers, " .. net:nparams() .. " parameters, 4 -> 2)",
                     tostring(m))
    local X, Xt = randn(5, 6, 4), randn(6, 3, 4)
    for _, output in ipairs{"full", "trace"} do
      local want, wl = ntklab.ntk(net, X, Xt, {output = output, layers = true})
      local fast, fl = ntklab.model_ntk(m, X, Xt, {output = output, layers = true})
      local gen, gl = ntklab.model_ntk(m, X, Xt, {output = output, layers = true, generic = true,
                                                  tile = 2})
      assert.is_true(rel(fast, want) <= NTK_REL_TOL)
      assert.is_true(rel(gen, want) <= NTK_REL_TOL)
      for l = 1, 3 do
        assert.is_true((gl[l] - wl[l]):abs():max() <= NTK_REL_TOL * want:abs():max())
        assert.is_true((fl[l] - wl[l]):abs():max() <= NTK_REL_TOL * want:abs():max())
      end
    end
    -- parameters are shared: a step on the model's view moves the net
    local g = m:grad(X, randn(7, 6, 2))
    local g2 = net:grad(X, randn(7, 6, 2))
    assert.is_true((g - g2):abs():max() <= NTK_REL_TOL * g2:abs():max())
    m:params():set(1, 5)
    assert.are.equal(5, net:params():get(1))
    -- the model keeps the net alive
    net = nil
    collectgarbage()
    assert.are.equal(2, m:output_dim())
    assert.are.same({6, 3}, ntklab.model_ntk(m, X, Xt, {output = "trace"}):shape())
  end)
end)

describe("bad arguments", function()
  local m = resnet(1)
  local X = ntklab.zeros(3, 72)
  local released = resnet(1)
  released:release()
  bad_args.cases(it, {
    {"ntklab.model_ntk", function() ntklab.model_ntk(42, X) end, "bad argument #1 to 'model_ntk' (ntklab.model expected, got number)"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(released, X) end, "attempt to use a released model"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, ntklab.zeros(3, 71)) end, "bad argument #2 to 'model_ntk' ([P x 72] inputs expected, got [3 x 71])"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, ntklab.zeros(2, 5)) end, "bad argument #3 to 'model_ntk' ([P x 72] inputs expected, got [2 x 5])"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, "x") end, "bad argument #3 to 'model_ntk' (tensor X2 or option table expected, got string)"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {output = "diag"}) end, "option 'output': expected one of 'full', 'blocks', 'trace', 'mean', got 'diag'"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {workspace = 1}) end, "invalid option 'workspace'"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {tile = -2}) end, "option 'tile': integer >= 0 expected, got -2"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {eta = ntklab.ones(3)}) end, "option 'eta': [" .. m:nparams() .. "] (one step per parameter) expected, got [3]"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {eta = -ntklab.ones(m:nparams())}) end, "option 'eta': entry 1 is -1.0, finite value >= 0 expected"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {layers = 1}) end, "option 'layers': boolean expected, got number"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {}, 5) end, "bad argument #4 to 'model_ntk' (no value expected after the option table)"},
    {"ntklab.model_ntk", function() ntklab.model_ntk(m, X, {generic = "yes"}) end, "option 'generic': boolean expected, got string"},
    {"ntklab.model_from_mlp", function() ntklab.model_from_mlp(42) end, "bad argument #1 to 'model_from_mlp' (ntklab.mlp expected, got number)"},
    {"model:input_shape", function() ntklab.model_from_mlp(ntklab.mlp{widths = {2, 1}, seed = 1}):input_shape() end, "model of layers expected, got a model of kind 'mlp'"},
    {"model:node_shape", function() ntklab.model_from_mlp(ntklab.mlp{widths = {2, 1}, seed = 1}):node_shape(0) end, "model of layers expected, got a model of kind 'mlp'"},
    {"ntklab.model_ntk_reference", function() ntklab.model_ntk_reference(m, X, {layer = 99}) end, "option 'layer': group in [0, "},
    {"ntklab.model_ntk_reference", function() ntklab.model_ntk_reference(m, ntklab.zeros(2)) end, "bad argument #2 to 'model_ntk_reference' ([P x 72] inputs expected, got [2])"},
    {"ntklab.model_ntk_reference", function() ntklab.model_ntk_reference(m, X, {tile = 2}) end, "invalid option 'tile'"},
  })
end)
