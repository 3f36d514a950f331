-- 10-mlp: networks. Construction and determinism, the forward pass against a plain-Lua
-- evaluation, backprop gradients against central finite differences for every activation,
-- the init schemes, parameter views and their lifetime, clone, save/load.
local ntklab = require "ntklab"
local ref = require "spec.support.ops_reference"
local model_fd = require "spec.support.model_fd"

-- Central differences (spec/support/model_fd.lua, step 1e-6 on O(1) losses) put a correct
-- gradient near 1e-9, far below the issue's bound of 1e-6 (relative to the largest entry).
local GRAD_REL_TOL = 1e-6
-- The forward pass in C and in plain Lua sum the same products in different orders.
local FORWARD_TOL = 1e-12
-- Balance and orthogonality are built exactly; what remains is rounding of O(n) sums.
local EXACT_TOL = 1e-13

local ACTIVATIONS = {"linear", "relu", "tanh", "erf", "gelu", "softplus", "quadratic"}

local function randn(seed, rows, cols) return ntklab.rng(seed):normal(rows, cols) end

-- plain-Lua products and differences on tables of rows (from tensors or tables)
local matmul, maxabs, maxdiff = ref.matmul, ref.maxabs, ref.absdiff

local phi = {
  linear = function(x) return x end,
  relu = function(x) return x > 0 and x or 0 end,
  tanh = function(x) return math.tanh and math.tanh(x) or (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end,
}

-- f(X) from the net's weight views, sample by sample, in plain Lua
local function forward_lua(net, X)
  local cfg = net:config()
  local L = net:depth()
  local out = {}
  for mu, x in ipairs(X:totable()) do
    local a = x
    for l = 1, L do
      local W = net:weight(l):totable()
      local c = cfg.param == "ntk" and 1 / math.sqrt(#a) or 1
      local b = cfg.bias and net:bias(l):totable() or nil
      local h = {}
      for i = 1, #W do
        local s = 0
        for j = 1, #a do s = s + W[i][j] * a[j] end
        h[i] = c * s + (b and b[i] or 0)
      end
      if l < L then
        local f = phi[cfg.activation[l]]
        for i = 1, #h do h[i] = f(h[i]) end
      end
      a = h
    end
    out[mu] = a
  end
  return out
end

describe("mlp", function()
  it("is built from options, deterministically from a seed or an rng", function()
    local a = ntklab.mlp{widths = {4, 6, 2}, seed = 7}
    local b = ntklab.mlp{widths = {4, 6, 2}, seed = 7}
    local c = ntklab.mlp{widths = {4, 6, 2}, seed = 8}
    assert.are.equal(4 * 6 + 6 * 2, a:nparams())
    assert.are.same(a:get():totable(), b:get():totable())
    assert.are_not.same(a:get():totable(), c:get():totable())
    local r1, r2 = ntklab.rng(3), ntklab.rng(3)
    local d = ntklab.mlp{widths = {4, 6, 2}, rng = r1}
    local e = ntklab.mlp{widths = {4, 6, 2}, rng = r2}
    assert.are.same(d:get():totable(), e:get():totable())
    -- the rng advanced: the next draw differs
    local f = ntklab.mlp{widths = {4, 6, 2}, rng = r1}
    assert.are_not.same(d:get():totable(), f:get():totable())
    local cfg = ntklab.mlp{widths = {3, 5, 5, 1}, activation = {"tanh", "relu"}, bias = true,
                           param = "ntk", sigma = {1, 2, 3}, bias_sigma = 0.5, seed = 1}:config()
    assert.are.same({3, 5, 5, 1}, cfg.widths)
    assert.are.same({"tanh", "relu"}, cfg.activation)
    assert.are.same({1, 2, 3}, cfg.sigma)
    assert.are.equal("ntk", cfg.param)
    assert.is_true(cfg.bias)
    assert.are.equal(0.5, cfg.bias_sigma)
    assert.matches("3, 5, 5, 1", tostring(a:clone()) .. tostring(ntklab.mlp{widths = {3, 5, 5, 1}, seed = 1}))
  end)

  it("draws gaussian weights with variance sigma^2/fan_in (standard) or sigma^2 (ntk)", function()
    for _, param in ipairs{"standard", "ntk"} do
      local net = ntklab.mlp{widths = {300, 200, 1}, sigma = 2, param = param, seed = 11}
      local W = net:weight(1):totable()
      local n, s, s2 = 0, 0, 0
      for _, row in ipairs(W) do for _, v in ipairs(row) do n, s, s2 = n + 1, s + v, s2 + v * v end end
      local var = param == "standard" and 4 / 300 or 4
      -- sample mean and variance within 5 standard errors
      assert.is_true(math.abs(s / n) < 5 * math.sqrt(var / n))
      assert.is_true(math.abs(s2 / n - var) < 5 * var * math.sqrt(2 / n))
    end
  end)

  it("honours a per-layer sigma and bias_sigma", function()
    local net = ntklab.mlp{widths = {100, 200, 150}, sigma = {1, 3}, bias = true, bias_sigma = 0.5,
                           seed = 12}
    local function moments(t)
      local n, s2 = 0, 0
      for _, row in ipairs(t:totable()) do
        if type(row) == "number" then row = {row} end
        for _, v in ipairs(row) do n, s2 = n + 1, s2 + v * v end
      end
      return s2 / n, n
    end
    for l, var in ipairs{1 / 100, 9 / 200} do
      local m2, n = moments(net:weight(l))
      assert.is_true(math.abs(m2 - var) < 5 * var * math.sqrt(2 / n), "layer " .. l)
    end
    local m2, n = moments(net:bias(1))
    assert.is_true(math.abs(m2 - 0.25) < 5 * 0.25 * math.sqrt(2 / n))
  end)

  it("computes the forward pass as a plain-Lua evaluation does", function()
    local X = randn(1, 6, 4)
    for _, act in ipairs{"linear", "relu", "tanh"} do
      for _, bias in ipairs{false, true} do
        for _, param in ipairs{"standard", "ntk"} do
          local net = ntklab.mlp{widths = {4, 5, 3, 2}, activation = act, bias = bias,
                                 param = param, bias_sigma = 0.3, seed = 5}
          local f = net:forward(X):totable()
          assert.is_true(maxdiff(f, forward_lua(net, X)) < FORWARD_TOL, act .. " " .. param)
          -- out-parameter form: same numbers, no new tensor
          local out = ntklab.zeros(6, 2)
          assert.are.equal(out, net:forward(X, out))
          assert.are.same(f, out:totable())
        end
      end
    end
    -- a transposed (non-contiguous) input gives the same result
    local net = ntklab.mlp{widths = {4, 3, 2}, seed = 2}
    local Xt = randn(1, 4, 6):t()
    assert.are.same(net:forward(Xt:contiguous()):totable(), net:forward(Xt):totable())
  end)

  it("has gradients equal to central finite differences (every activation, depth 1-4, bias, C, parameterization)",
    function()
      local P, D, H = 4, 3, 5
      local cases, worst = 0, 0
      for _, param in ipairs{"standard", "ntk"} do
        for _, bias in ipairs{false, true} do
          for _, C in ipairs{1, 3} do
            for depth = 1, 4 do
              for ai, act in ipairs(ACTIVATIONS) do
                if depth > 1 or ai == 1 then -- depth 1 has no hidden activation
                  local widths = {D}
                  for _ = 1, depth - 1 do widths[#widths + 1] = H end
                  widths[#widths + 1] = C
                  local net = ntklab.mlp{widths = widths, activation = act, bias = bias,
                                         param = param, bias_sigma = 0.5, seed = 100 + depth}
                  local X = randn(depth + 10 * C, P, D)
                  local Y = C == 1 and randn(7, P) or randn(7, P, C)
                  local g, loss = net:grad(X, Y)
                  assert.is_true(math.abs(loss - net:loss(X, Y)) <= 1e-15 * math.max(1, loss))
                  assert.is_true(g:abs():max() > 0)
                  local rel = model_fd.loss_grad_error(net, X, Y)
                  worst = math.max(worst, rel)
                  assert.is_true(rel < GRAD_REL_TOL, string.format(
                    "%s depth %d bias %s C %d %s: relative error %g", act, depth, tostring(bias), C, param, rel))
                  cases = cases + 1
                end
              end
            end
          end
        end
      end
      assert.are.equal(2 * 2 * 2 * (1 + 3 * #ACTIVATIONS), cases)
      assert.is_true(worst < GRAD_REL_TOL)
    end)

  it("accepts an empty batch: no outputs, zero loss and gradient", function()
    local net = ntklab.mlp{widths = {3, 4, 2}, bias = true, seed = 1}
    assert.are.same({0, 2}, net:forward(ntklab.zeros(0, 3)):shape())
    assert.are.equal(0, net:loss(ntklab.zeros(0, 3), ntklab.zeros(0, 2)))
    local g = net:grad(ntklab.zeros(0, 3), ntklab.zeros(0, 2))
    for _, v in ipairs(g:totable()) do assert.are.equal(0, v) end
  end)

  it("writes the gradient into a caller's buffer", function()
    local net = ntklab.mlp{widths = {3, 4, 2}, seed = 1}
    local X, Y = randn(1, 5, 3), randn(2, 5, 2)
    local g = ntklab.zeros(net:nparams())
    local g2, loss = net:grad(X, Y, g)
    assert.are.equal(g, g2)
    assert.are.same(net:grad(X, Y):totable(), g:totable())
    assert.is_true(loss > 0)
  end)

  it("draws orthogonal weights: W W^T (or W^T W) is a multiple of the identity", function()
    for _, widths in ipairs{{6, 6, 6}, {8, 3, 5}} do
      local net = ntklab.mlp{widths = widths, init = "orthogonal", sigma = 1.5, seed = 3}
      for l = 1, #widths - 1 do
        local nout, nin = widths[l + 1], widths[l]
        local W = net:weight(l)
        local G = nout <= nin and matmul(W, W, false, true) or matmul(W, W, true, false)
        local g2 = G[1][1]
        for i = 1, #G do
          for j = 1, #G do
            local expect = i == j and g2 or 0
            assert.is_true(math.abs(G[i][j] - expect) < EXACT_TOL * g2)
          end
        end
        -- the Frobenius norm matches a Gaussian layer's expectation: nout nin sigma^2 / nin
        assert.is_true(math.abs(g2 * math.min(nout, nin) - nout * 1.5 ^ 2) < 1e-12 * nout)
      end
    end
  end)

  it("draws balanced weights: W^l W^l^T = W^{l+1}^T W^{l+1} exactly, rank min width", function()
    for _, param in ipairs{"standard", "ntk"} do
      local widths = {6, 8, 5, 7, 3}
      local net = ntklab.mlp{widths = widths, init = "balanced", activation = "linear",
                             param = param, sigma = 0.7, seed = 9}
      for l = 1, #widths - 2 do
        local A = matmul(net:weight(l), net:weight(l), false, true)
        local B = matmul(net:weight(l + 1), net:weight(l + 1), true, false)
        assert.is_true(maxabs(A) > 0)
        assert.is_true(maxdiff(A, B) < EXACT_TOL * maxabs(A), param .. " layer " .. l)
      end
      -- every layer has rank r = min width = 3 (row Gram-Schmidt, cut at 1e-10 of the scale)
      for l = 1, #widths - 1 do
        local rows, basis, scale = net:weight(l):totable(), {}, 0
        for _, row in ipairs(rows) do for _, v in ipairs(row) do scale = math.max(scale, math.abs(v)) end end
        for _, row in ipairs(rows) do
          local v = {table.unpack(row)}
          for _, q in ipairs(basis) do
            local d = 0
            for i = 1, #v do d = d + q[i] * v[i] end
            for i = 1, #v do v[i] = v[i] - d * q[i] end
          end
          local nrm = 0
          for i = 1, #v do nrm = nrm + v[i] ^ 2 end
          nrm = math.sqrt(nrm)
          if nrm > 1e-10 * scale then
            for i = 1, #v do v[i] = v[i] / nrm end
            basis[#basis + 1] = v
          end
        end
        assert.are.equal(3, #basis, "rank of layer " .. l)
      end
    end
    assert.has_error(function()
      ntklab.mlp{widths = {3, 3, 1}, init = "balanced", sigma = {1, 2}, seed = 1}
    end, "bad argument #1 to 'mlp' (balanced init needs one sigma for all layers (layer 2 has 2, layer 1 has 1))")
  end)

  it("exposes parameters as views into one flat buffer that outlive the net", function()
    local net = ntklab.mlp{widths = {2, 3, 1}, bias = true, bias_sigma = 1, seed = 4}
    local flat, W1, b1, W2 = net:params(), net:weight(1), net:bias(1), net:weight(2)
    assert.are.same({3, 2}, W1:shape())
    assert.are.same({3}, b1:shape())
    assert.are.same({1, 3}, W2:shape())
    -- layout: W1 row-major, b1, W2, b2
    assert.are.equal(W1:get(2, 1), flat:get(3))
    assert.are.equal(b1:get(1), flat:get(7))
    assert.are.equal(W2:get(1, 3), flat:get(12))
    local layers = net:layers()
    assert.are.equal(2, #layers)
    assert.are.same(W2:totable(), layers[2].W:totable())
    -- writes through a view change the net
    local X = ntklab.tensor{{1, 2}}
    local before = net:forward(X):get(1, 1)
    layers[2].b:set(1, layers[2].b:get(1) + 1)
    assert.is_true(math.abs(net:forward(X):get(1, 1) - before - 1) < 1e-14)
    -- get/set copy the flat vector
    local theta = net:get()
    theta:set(1, 42)
    assert.are_not.equal(42, flat:get(1))
    net:set(theta)
    assert.are.equal(42, W1:get(1, 1))
    net:set(theta:reshape(13):clone()) -- any 1-D tensor of the right length
    -- the views survive the net
    net:release()
    net = nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(42, W1:get(1, 1))
    W1:set(1, 1, 1)
    assert.are.equal(1, flat:get(1))
  end)

  it("clones into independent storage", function()
    local net = ntklab.mlp{widths = {3, 4, 2}, activation = "tanh", bias = true, seed = 2}
    local copy = net:clone()
    local X = randn(1, 3, 3)
    assert.are.same(net:forward(X):totable(), copy:forward(X):totable())
    assert.are.same(net:config(), copy:config())
    copy:params():set(1, 99)
    assert.are_not.equal(99, net:params():get(1))
  end)

  describe("save/load", function()
    local function tmpname() return os.tmpname() .. ".mlp" end
    local function read(path)
      local f = assert(io.open(path, "rb"))
      local s = f:read("a")
      f:close()
      return s
    end
    local function write(path, s)
      local f = assert(io.open(path, "wb"))
      f:write(s)
      f:close()
    end

    it("round-trips bit-exactly", function()
      local path = tmpname()
      local net = ntklab.mlp{widths = {3, 5, 4, 2}, activation = {"gelu", "tanh"}, bias = true,
                             param = "ntk", sigma = {1, 0.5, 2}, bias_sigma = 0.1,
                             init = "orthogonal", seed = 12}
      assert.is_true(net:save(path))
      local back = assert(ntklab.mlp_load(path))
      assert.are.same(net:config(), back:config())
      local a, b = net:get(), back:get()
      for i = 1, net:nparams() do assert.are.equal(a:get(i), b:get(i)) end
      local X = randn(3, 4, 3)
      assert.are.same(net:forward(X):totable(), back:forward(X):totable())
      -- overwriting an existing file works (rename over it)
      assert.is_true(back:save(path))
      os.remove(path)
    end)

    it("writes through a temporary file that it renames: nothing else is left behind", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert.is_true(os.execute("mkdir " .. dir))
      local net = ntklab.mlp{widths = {2, 3, 1}, seed = 1}
      assert.is_true(net:save(dir .. "/a.mlp"))
      assert.is_true(net:save(dir .. "/a.mlp"))
      local ls = io.popen("ls -A " .. dir)
      local listing = ls:read("a")
      ls:close()
      assert.are.equal("a.mlp\n", listing)
      os.remove(dir .. "/a.mlp")
      os.remove(dir)
    end)

    it("rejects truncated, corrupt and foreign files with nil, 'path: reason'", function()
      local path, bad = tmpname(), tmpname()
      local net = ntklab.mlp{widths = {3, 4, 1}, seed = 1}
      assert.is_true(net:save(path))
      local bytes = read(path)
      assert.are.equal(32 + 8 * 3 + 4 * 2 + 8 * 2 + 8 + 8 + 8 * 16 + 4, #bytes)
      local cases = {
        {bytes:sub(1, #bytes - 1), "truncated file %(expected 228 bytes, got 227%)"},
        {bytes:sub(1, 20), "truncated"},
        {"", "truncated"},
        {bytes .. "x", "oversized file"},
        {bytes:sub(1, 100) .. string.char((bytes:byte(101) + 1) % 256) .. bytes:sub(102), "checksum mismatch"},
        {bytes:sub(1, #bytes - 1) .. string.char((bytes:byte(#bytes) + 1) % 256), "checksum mismatch"},
        {"NOTANMLP" .. bytes:sub(9), "not an ntklab mlp file"},
        {bytes:sub(1, 8) .. "\2\0\0\0" .. bytes:sub(13), "unsupported format version 2"},
        {bytes:sub(1, 12) .. "\0\0\0\0" .. bytes:sub(17), "corrupt header %(depth 0%)"},
      }
      for _, case in ipairs(cases) do
        write(bad, case[1])
        local ok, msg = ntklab.mlp_load(bad)
        assert.is_nil(ok)
        assert.matches(bad:gsub("%p", "%%%0") .. ": " .. case[2], msg)
      end
      local ok, msg = ntklab.mlp_load(path .. ".missing")
      assert.is_nil(ok)
      assert.matches("missing: cannot open: No such file", msg)
      ok, msg = net:save("/nonexistent-dir/x.mlp")
      assert.is_nil(ok)
      assert.matches("^/nonexistent%-dir/x%.mlp: cannot create a file beside it: No such file or directory$", msg)
      os.remove(path)
      os.remove(bad)
    end)
  end)
end)
