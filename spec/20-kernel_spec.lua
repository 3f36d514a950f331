-- 20-kernel: the empirical NTK. The fast per-layer-Gram path against its obvious twin, the
-- explicit Jacobian J J^T, over every activation, depth, bias, output count, layout and
-- parameterization; per-layer sums; the two-layer linear closed form; symmetry and PSD; tiles;
-- the input-Gram cache; the Adam-preconditioned kernel; NNGP layer kernels.
local ntklab = require "ntklab"

-- Both paths sum the same products in different orders: they differ by rounding only, a few
-- ulps of the largest term; 1e-10 of the kernel's scale is the bar the issue sets.
local REL_TOL = 1e-10

local function flat(t)
  local out = {}
  for _, row in ipairs(t:totable()) do
    if type(row) == "table" then
      for _, v in ipairs(row) do out[#out + 1] = v end
    else
      out[#out + 1] = row
    end
  end
  return out
end

local function rel_diff(a, b)
  local fa, fb = flat(a), flat(b)
  assert.are.equal(#fb, #fa)
  local m, s = 0, 0
  for i = 1, #fa do
    m = math.max(m, math.abs(fa[i] - fb[i]))
    s = math.max(s, math.abs(fb[i]))
  end
  return s > 0 and m / s or m
end

local ACTS = {"linear", "relu", "tanh", "erf", "gelu", "softplus", "quadratic"}

local function make_net(depth, D, width, C, act, bias, param, seed)
  local widths = {D}
  for l = 1, depth - 1 do widths[#widths + 1] = width + l end
  widths[#widths + 1] = C
  return ntklab.mlp{widths = widths, activation = act, bias = bias, param = param,
                    sigma = 1.3, bias_sigma = bias and 0.4 or 0, seed = seed}
end

describe("ntk", function()
  local rng = ntklab.rng(2026)
  local X = rng:normal(6, 3)
  local X2 = rng:normal(4, 3)

  it("equals J J^T for every activation, depth 1-5, bias, C = 1 and 3, both parameterizations",
     function()
    local worst, cases = 0, 0
    for ai, act in ipairs(ACTS) do
      for depth = 1, 5 do
        for _, bias in ipairs{false, true} do
          for _, C in ipairs{1, 3} do
            for _, param in ipairs{"standard", "ntk"} do
              local net = make_net(depth, 3, 4, C, act, bias, param, 100 * ai + 10 * depth + C)
              for _, output in ipairs{"full", "blocks", "trace", "mean"} do
                local K = ntklab.ntk(net, X, {output = output})
                local R = ntklab.ntk_reference(net, X, {output = output})
                worst = math.max(worst, rel_diff(K, R))
                local Kx = ntklab.ntk(net, X, X2, {output = output})
                local Rx = ntklab.ntk_reference(net, X, X2, {output = output})
                worst = math.max(worst, rel_diff(Kx, Rx))
                cases = cases + 2
              end
            end
          end
        end
      end
    end
    assert.are.equal(7 * 5 * 2 * 2 * 2 * 4 * 2, cases)
    assert.is_true(worst <= REL_TOL, "worst relative difference " .. worst)
  end)

  it("names its layouts: full is sample-major, blocks output-major, trace sums, mean divides by C",
     function()
    local net = make_net(2, 3, 5, 3, "tanh", true, "standard", 7)
    local F = ntklab.ntk(net, X, X2, {output = "full"})
    local B = ntklab.ntk(net, X, X2, {output = "blocks"})
    local T = ntklab.ntk(net, X, X2, {output = "trace"})
    local M = ntklab.ntk(net, X, X2, {output = "mean"})
    assert.are.same({18, 12}, F:shape())
    assert.are.same({18, 12}, B:shape())
    assert.are.same({6, 4}, T:shape())
    for mu = 1, 6 do
      for nu = 1, 4 do
        local tr = 0
        for k = 1, 3 do
          for kk = 1, 3 do
            local v = F:get((mu - 1) * 3 + k, (nu - 1) * 3 + kk)
            assert.are.equal(v, B:get((k - 1) * 6 + mu, (kk - 1) * 4 + nu))
            if k == kk then tr = tr + v end
          end
        end
        assert.is_true(math.abs(T:get(mu, nu) - tr) <= 1e-12 * (1 + math.abs(tr)))
        assert.is_true(math.abs(M:get(mu, nu) - tr / 3) <= 1e-12 * (1 + math.abs(tr)))
      end
    end
  end)

  it("returns per-layer contributions that sum to the total and match the reference", function()
    for _, output in ipairs{"full", "trace"} do
      local net = make_net(4, 3, 4, 2, "softplus", true, "ntk", 11)
      local K, layers = ntklab.ntk(net, X, {output = output, layers = true})
      assert.are.equal(4, #layers)
      local sum = flat(layers[1])
      for l = 2, 4 do
        local f = flat(layers[l])
        for i = 1, #sum do sum[i] = sum[i] + f[i] end
      end
      local fk = flat(K)
      for i = 1, #fk do assert.is_true(math.abs(sum[i] - fk[i]) <= 1e-12 * (1 + math.abs(fk[i]))) end
      for l = 1, 4 do
        local R = ntklab.ntk_reference(net, X, {output = output, layer = l})
        assert.is_true(rel_diff(layers[l], R) <= REL_TOL)
      end
    end
  end)

  it("default calls (a per-net cached workspace) give fresh results equal to explicit ones", function()
    -- issue 17: a call without a workspace reuses one kept per net, keyed like any workspace by
    -- the contents of X; results are new tensors, and a changed X is never served stale
    local net = make_net(4, 3, 4, 2, "softplus", true, "ntk", 11)
    local Xc = X:clone()
    local K1 = ntklab.ntk(net, Xc)
    local K2 = ntklab.ntk(net, Xc)
    assert.are_not.equal(K1, K2)
    assert.are.same(ntklab.ntk(net, Xc, {workspace = ntklab.kernel_workspace()}):totable(), K2:totable())
    K2:fill_(0) -- results do not alias each other or the cache
    assert.are.same(K1:totable(), ntklab.ntk(net, Xc):totable())
    Xc:set(1, 1, Xc:get(1, 1) + 0.5)
    local K3 = ntklab.ntk(net, Xc)
    assert.are.same(ntklab.ntk(net, Xc, {workspace = ntklab.kernel_workspace()}):totable(), K3:totable())
    assert.are_not.same(K1:totable(), K3:totable())
    collectgarbage() -- releases the default workspace; the next call makes a new one
    assert.are.same(K3:totable(), ntklab.ntk(net, Xc):totable())
  end)

  it("writes per-layer contributions into caller buffers, the same bits as fresh ones", function()
    -- layers = {K_1, ..., K_L}: the recorder's loop reuses them instead of allocating L kernels
    -- per record (issue 17); the values must not depend on where they are written
    local net = make_net(4, 3, 4, 2, "softplus", true, "ntk", 11)
    local K, fresh = ntklab.ntk(net, X, {output = "full", layers = true})
    local n = K:size(1)
    local bufs = {}
    for l = 1, 4 do bufs[l] = ntklab.full(n, n, 7) end -- stale contents: must be overwritten
    local out = ntklab.full(n, n, 7)
    for _ = 1, 2 do -- twice: the second call starts from the first one's values
      local K2, lay = ntklab.ntk(net, X, {output = "full", layers = bufs, out = out})
      assert.are.equal(bufs, lay)
      assert.are.equal(out, K2)
      assert.are.same(K:totable(), K2:totable())
      for l = 1, 4 do
        assert.are.equal(bufs[l], lay[l])
        assert.are.same(fresh[l]:totable(), lay[l]:totable())
      end
    end
  end)

  it("of a two-layer linear net is x^T (W^T W + |a|^2 I) x' (standard parameterization)",
     function()
    local D, N = 3, 5
    local net = ntklab.mlp{widths = {D, N, 1}, activation = "linear", seed = 3, sigma = 0.8}
    local W, a = net:weight(1):totable(), net:weight(2):totable()[1]
    local a2 = 0
    for i = 1, N do a2 = a2 + a[i] * a[i] end
    local M = {}
    for i = 1, D do
      M[i] = {}
      for j = 1, D do
        local s = i == j and a2 or 0
        for k = 1, N do s = s + W[k][i] * W[k][j] end
        M[i][j] = s
      end
    end
    local K = ntklab.ntk(net, X, X2)
    local x, x2 = X:totable(), X2:totable()
    for mu = 1, 6 do
      for nu = 1, 4 do
        local s = 0
        for i = 1, D do for j = 1, D do s = s + x[mu][i] * M[i][j] * x2[nu][j] end end
        assert.is_true(math.abs(K:get(mu, nu) - s) <= 1e-13 * (1 + math.abs(s)))
      end
    end
    -- ntk parameterization, h = c W x with c_l = 1/sqrt(n_{l-1}): both layers pick up
    -- c_1^2 c_2^2 = 1/(D N), K = (|a|^2 x.x' + (W x).(W x')) / (D N)
    local nt = ntklab.mlp{widths = {D, N, 1}, activation = "linear", param = "ntk", seed = 3}
    local Wn, an = nt:weight(1):totable(), nt:weight(2):totable()[1]
    local s2 = 0
    for i = 1, N do s2 = s2 + an[i] * an[i] end
    local Kn = ntklab.ntk(nt, X)
    for mu = 1, 6 do
      for nu = 1, 6 do
        local lin = 0
        for i = 1, D do lin = lin + x[mu][i] * x[nu][i] end
        local hw = 0
        for k = 1, N do
          local hm, hn = 0, 0
          for i = 1, D do
            hm = hm + Wn[k][i] * x[mu][i]
            hn = hn + Wn[k][i] * x[nu][i]
          end
          hw = hw + hm * hn
        end
        local s = lin * s2 / (D * N) + hw / (D * N)
        assert.is_true(math.abs(Kn:get(mu, nu) - s) <= 1e-13 * (1 + math.abs(s)))
      end
    end
  end)

  it("is symmetric exactly and PSD to rounding", function()
    for _, act in ipairs(ACTS) do
      local net = make_net(3, 3, 6, 2, act, true, "standard", 5)
      local Xs = ntklab.rng(9):normal(12, 3)
      local K = ntklab.ntk(net, Xs, {output = "full"})
      local t = K:totable()
      for i = 1, #t do for j = 1, #t do assert.are.equal(t[i][j], t[j][i]) end end
      local ok, lmin, lmax = ntklab.psd_check(K)
      assert.is_true(ok, act .. ": lambda_min " .. lmin .. " lambda_max " .. lmax)
    end
  end)

  it("computes the same kernel in tiles, for every layout, symmetric and cross", function()
    local net = make_net(3, 3, 5, 2, "gelu", true, "standard", 13)
    local Xb = ntklab.rng(4):normal(11, 3)
    for _, output in ipairs{"full", "blocks", "trace", "mean"} do
      for _, tile in ipairs{1, 4, 5, 100} do
        assert.is_true(rel_diff(ntklab.ntk(net, Xb, {output = output, tile = tile}),
                                ntklab.ntk(net, Xb, {output = output})) <= REL_TOL)
        assert.is_true(rel_diff(ntklab.ntk(net, Xb, X2, {output = output, tile = tile}),
                                ntklab.ntk(net, Xb, X2, {output = output})) <= REL_TOL)
      end
    end
  end)

  it("caches X X^T in a workspace while X is unchanged and notices in-place edits", function()
    local net = make_net(2, 3, 5, 1, "relu", true, "standard", 17)
    local ws <close> = ntklab.kernel_workspace()
    local Xc = X:clone()
    local K1 = ntklab.ntk(net, Xc, {workspace = ws})
    assert.are.equal(0, ws:hits())
    local K2 = ntklab.ntk(net, Xc, {workspace = ws})
    assert.are.equal(1, ws:hits())
    assert.are.same(K1:totable(), K2:totable())
    -- training changes the net, not X: the cached Gram stays valid and the kernel follows the net
    local tr = ntklab.train.gd{lr = 0.1}
    tr:step(net, Xc, ntklab.rng(3):normal(6, 1))
    local K3 = ntklab.ntk(net, Xc, {workspace = ws})
    assert.are.equal(2, ws:hits())
    assert.is_true(rel_diff(K3, ntklab.ntk(net, Xc)) == 0)
    assert.is_true(rel_diff(K3, K1) > 1e-6)
    -- an in-place edit of X is a cache miss, and the result is the fresh kernel
    Xc:set(2, 2, Xc:get(2, 2) + 0.5)
    local K4 = ntklab.ntk(net, Xc, {workspace = ws})
    assert.are.equal(2, ws:hits())
    assert.are.same(ntklab.ntk(net, Xc):totable(), K4:totable())
    -- writing into a caller's tensor gives the same kernel
    local out = ntklab.zeros(6, 6)
    assert.are.equal(out, ntklab.ntk(net, Xc, {workspace = ws, out = out}))
    assert.are.same(K4:totable(), out:totable())
    assert.is_true(ws:bytes() > 0)
    ws:clear()
    assert.are.equal(0, ws:bytes())
    ws:release()
    assert.has_error(function() ws:bytes() end, "attempt to use a released kernel_workspace")
  end)

  it("Adam kernel: eta = c everywhere gives c times the NTK; eta from adam matches J diag(eta) J^T",
     function()
    local net = make_net(3, 3, 5, 2, "tanh", true, "standard", 19)
    local c = 0.0375
    local eta = ntklab.zeros(net:nparams())
    for i = 1, net:nparams() do eta:set(i, c) end
    for _, output in ipairs{"full", "trace"} do
      local K = ntklab.ntk(net, X, {output = output})
      local E = ntklab.ntk(net, X, {output = output, eta = eta})
      local fk, fe = flat(K), flat(E)
      for i = 1, #fk do assert.is_true(math.abs(fe[i] - c * fk[i]) <= 1e-12 * (1 + math.abs(fk[i]))) end
    end
    local adam = ntklab.train.adam{lr = 1e-2}
    local Y = ntklab.rng(5):normal(6, 2)
    for _ = 1, 3 do adam:step(net, X, Y) end
    local ae = adam:effective_lr(net)
    for _, output in ipairs{"full", "blocks", "mean"} do
      local E, layers = ntklab.ntk(net, X, X2, {output = output, eta = ae, layers = true})
      assert.is_true(rel_diff(E, ntklab.ntk_reference(net, X, X2, {output = output, eta = ae}))
                     <= REL_TOL)
      assert.is_true(rel_diff(layers[2], ntklab.ntk_reference(net, X, X2,
                              {output = output, eta = ae, layer = 2})) <= REL_TOL)
    end
  end)

  it("offers a monotonic wall clock for benchmarks", function()
    local t0 = ntklab.clock()
    ntklab.ntk(make_net(2, 3, 50, 1, "relu", false, "standard", 1), ntklab.rng(1):normal(200, 3))
    local t1 = ntklab.clock()
    assert.is_true(t1 > t0 and t1 - t0 < 60)
  end)

  it("builds the Jacobian with one row per (sample, output)", function()
    local net = make_net(2, 3, 4, 2, "erf", true, "standard", 23)
    local J = ntklab.jacobian(net, X)
    assert.are.same({12, net:nparams()}, J:shape())
    -- the last-layer bias block of the Jacobian is the identity per sample
    local p = net:nparams()
    for mu = 1, 6 do
      for k = 1, 2 do
        for kk = 1, 2 do assert.are.equal(k == kk and 1 or 0, J:get((mu - 1) * 2 + k, p - 2 + kk)) end
      end
    end
  end)

  it("gives NNGP layer kernels: X X^T at layer 0, A_l A_l^T, f f^T at layer L", function()
    local net = make_net(3, 3, 4, 2, "relu", true, "standard", 29)
    local ks = ntklab.nngp(net, X)
    local kx = ntklab.nngp(net, X, X2)
    assert.are.equal(3, #ks)
    local f, f2 = net:forward(X):totable(), net:forward(X2):totable()
    local x, x2 = X:totable(), X2:totable()
    local function dot(u, v) local s = 0; for i = 1, #u do s = s + u[i] * v[i] end; return s end
    for mu = 1, 6 do
      for nu = 1, 6 do
        assert.is_true(math.abs(ks[0]:get(mu, nu) - dot(x[mu], x[nu])) <= 1e-12)
        local t = dot(f[mu], f[nu])
        assert.is_true(math.abs(ks[3]:get(mu, nu) - t) <= 1e-12 * (1 + math.abs(t)))
      end
      for nu = 1, 4 do
        local t = dot(f[mu], f2[nu])
        assert.is_true(math.abs(kx[3]:get(mu, nu) - t) <= 1e-12 * (1 + math.abs(t)))
        assert.is_true(math.abs(kx[0]:get(mu, nu) - dot(x[mu], x2[nu])) <= 1e-12)
      end
    end
    -- hidden layer 1 from its own forward pass: relu(W x + b)
    local W, b = net:weight(1):totable(), net:bias(1):totable()
    local function hidden(xv)
      local h = {}
      for i = 1, #W do h[i] = math.max(0, dot(W[i], xv) + b[i]) end
      return h
    end
    for mu = 1, 6 do
      for nu = 1, 4 do
        local t = dot(hidden(x[mu]), hidden(x2[nu]))
        assert.is_true(math.abs(kx[1]:get(mu, nu) - t) <= 1e-12 * (1 + math.abs(t)))
      end
    end
  end)
end)
