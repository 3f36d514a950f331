--- ntklab.deep_linear: observables of a deep linear net f(x) = W^L ... W^1 x (an ntklab.mlp with
-- activation "linear", no biases, one output), for comparing simulations with ntklab.theory:
--
--   deep_linear.end_to_end(net)           v = W^L ... W^1, the net's linear map (a [D] tensor)
--   deep_linear.coefficient(net, beta)    c = v . beta/|beta|: the theory's c = u^L
--   deep_linear.first_layer_cosine(net, beta)
--                                         cos(W1^T W1, beta beta^T) = |W1 b|^2 / |W1 W1^T|_F
--   deep_linear.balance_gap(net)          max_l |W^l W^l^T - W^{l+1}^T W^{l+1}|_F (conserved)
--   deep_linear.aligned_init(net, beta, u0, rng)
--                                         W^l = u0 r_{l+1} r_l^T with r_1 = beta/|beta|: the
--                                         balanced rank-one start on which the c(t) ODE is exact
--
-- Misuse raises "bad argument #n to 'deep_linear.f' (...)".
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"

local deep_linear = {}

local function is_tensor(v) return getmetatable(v) == core.metatable("tensor") end

-- The net, checked to be a deep linear net with one output and no biases; returns its depth.
local function linear_net(net, n, f)
  if getmetatable(net) ~= core.metatable("mlp") then
    check.fail(n, f, "ntklab.mlp expected, got " .. check.typename(net))
  end
  local cfg = net:config()
  for l, a in ipairs(cfg.activation or {}) do
    if a ~= "linear" then
      check.fail(n, f, string.format("linear net expected, layer %d has activation '%s'", l, tostring(a)))
    end
  end
  if cfg.bias then check.fail(n, f, "net without biases expected") end
  -- the ntk parameterization scales each layer by 1/sqrt(fan-in): W^l alone is not the map
  if cfg.param ~= "standard" then
    check.fail(n, f, "net in the standard parameterization expected, got '" .. tostring(cfg.param) .. "'")
  end
  local widths = net:widths()
  if widths[#widths] ~= 1 then
    check.fail(n, f, string.format("net with one output expected, got %d", widths[#widths]))
  end
  return net:depth(), widths
end

-- beta as a unit [D] tensor (a copy), checked against the input dimension D.
local function unit_beta(beta, D, n, f)
  local b = check.vector(is_tensor(beta) and beta:totable() or beta, n, f, "vector beta")
  if #b ~= D then check.fail(n, f, string.format("beta with %d entries expected (the net's inputs), got %d", D, #b)) end
  local nb = 0
  for i = 1, #b do nb = nb + b[i] * b[i] end
  if not (nb > 0 and nb < math.huge) then check.fail(n, f, "non-zero finite beta expected") end
  local t = core.tensor(b)
  t:div_(math.sqrt(nb))
  return t
end

--- v = W^L ... W^1 as a [D] tensor: f(x) = v . x.
function deep_linear.end_to_end(net)
  local L, widths = linear_net(net, 1, "deep_linear.end_to_end")
  local v = net:weight(L) -- [1 x n_{L-1}]
  for l = L - 1, 1, -1 do v = core.matmul(v, net:weight(l)) end
  return v:reshape(widths[1])
end

--- c = v . beta / |beta|, the coefficient of the net's map along the teacher direction.
function deep_linear.coefficient(net, beta)
  local f = "deep_linear.coefficient"
  local _, widths = linear_net(net, 1, f)
  local b = unit_beta(beta, widths[1], 2, f)
  return deep_linear.end_to_end(net):dot(b)
end

--- cos(W1^T W1, beta beta^T) = b^T W1^T W1 b / |W1^T W1|_F with b = beta/|beta| (|b b^T|_F = 1);
-- 1 exactly when W1 is rank one along beta. (ntklab.weight_alignment computes the same.)
function deep_linear.first_layer_cosine(net, beta)
  local f = "deep_linear.first_layer_cosine"
  local _, widths = linear_net(net, 1, f)
  local b = unit_beta(beta, widths[1], 2, f)
  local W1 = net:weight(1)
  local w = core.matmul(W1, b)
  local G = W1:gram() -- W1 W1^T, whose Frobenius norm equals W1^T W1's
  return w:dot(w) / G:norm()
end

--- max over l of |W^l W^l^T - W^{l+1}^T W^{l+1}|_F: gradient flow conserves each of these
-- matrices (NOTES.md), so it measures how far the integrator drifted from the start's value.
-- Returns the max and the array of the L - 1 gaps.
function deep_linear.balance_gap(net)
  local L = linear_net(net, 1, "deep_linear.balance_gap")
  local gaps, worst = {}, 0
  for l = 1, L - 1 do
    local A = net:weight(l):gram()
    local Wn = net:weight(l + 1)
    local B = core.matmul(Wn:t(), Wn)
    gaps[l] = (A - B):norm()
    worst = math.max(worst, gaps[l])
  end
  return worst, gaps
end

--- Sets the weights to the balanced rank-one start W^1 = u0 r_2 b^T, W^l = u0 r_{l+1} r_l^T,
-- W^L = u0 r_L^T, with b = beta/|beta| and r_2 .. r_L random unit vectors drawn from rng (an
-- ntklab.rng). Then W^l W^l^T = W^{l+1}^T W^{l+1} = u0^2 r_{l+1} r_{l+1}^T, f(x) = u0^L b.x, and
-- on whitened data the dynamics stay on this manifold with c = u^L solving
-- dc/dt = L c^{2-2/L}(s - c) exactly (theory.deep_c with c0 = u0^L). Returns the net.
function deep_linear.aligned_init(net, beta, u0, rng)
  local f = "deep_linear.aligned_init"
  local L, widths = linear_net(net, 1, f)
  local b = unit_beta(beta, widths[1], 2, f)
  check.positive(u0, 3, f)
  if getmetatable(rng) ~= core.metatable("rng") then
    check.fail(4, f, "ntklab.rng expected, got " .. check.typename(rng))
  end
  local prev = b:reshape(1, widths[1])
  for l = 1, L do
    local r
    if l == L then
      r = core.ones(1, 1)
    else
      r = rng:normal(widths[l + 1], 1)
      r:div_(r:norm())
    end
    local W = core.matmul(r, prev) -- [n_l x n_{l-1}] = r_{l+1} r_l^T
    W:mul_(u0)
    net:weight(l):copy_(W)
    prev = r:t()
  end
  return net
end

return deep_linear
