--- ntklab.theory_multi: linear networks with C outputs (Section 4.2, Appendix H), merged into
-- ntklab.theory. Teacher beta (C x D) = sum_a s_a z_a v_a^T, whitened inputs, the loss
-- 1/(2P) sum |f - y|^2 and gradient flow with eta = 1, as in ntklab.theory.
--
-- Mode by mode (Saxe et al. 2014): from small init, a deep linear net's map M = W^L ... W^1
-- keeps the teacher's singular vectors, and the strength c_a = z_a^T M v_a of mode a obeys
-- dc/dt = L c^{2-2/L} (s_a - c) (ntklab.theory.deep_c), each mode on its own clock.
-- At the end (balanced weights, M = beta) the kernels are (derivation in the comments below):
--   NTK   K_cc'(x, x') = sum_{l=1}^{L} [(beta beta^T)^{(L-l)/L}]_cc' x^T (beta^T beta)^{(l-1)/L} x'
--   NNGP  K_l(x, x')   = x^T (beta^T beta)^{l/L} x'                                  (Eq. 80)
-- with the zeroth power the identity (I_C, I_D). For C = 1 the NTK is theory.final_ntk's
-- s^{2-2/L} x^T [(L-1) beta beta^T + I] x'.
local check = require "ntklab.argcheck"
check.register()

local multi = {}

local sqrt, abs = math.sqrt, math.abs

-- Eigen-decomposition of a small symmetric matrix (array of rows) by cyclic Jacobi rotations:
-- returns eigenvalues and eigenvectors (as arrays), descending. Converges quadratically; the
-- sweep stops when the off-diagonal mass is below 1e-30 of the total (rounding level).
local function jacobi(A)
  local n = #A
  local a, V = {}, {}
  for i = 1, n do
    a[i], V[i] = {}, {}
    for j = 1, n do a[i][j], V[i][j] = A[i][j], i == j and 1 or 0 end
  end
  for _ = 1, 100 do
    local off, total = 0, 0
    for i = 1, n do
      for j = 1, n do
        total = total + a[i][j] ^ 2
        if i ~= j then off = off + a[i][j] ^ 2 end
      end
    end
    if off <= 1e-30 * total or off == 0 then break end
    for p = 1, n - 1 do
      for q = p + 1, n do
        if a[p][q] ~= 0 then
          local theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
          local t = (theta >= 0 and 1 or -1) / (abs(theta) + sqrt(theta * theta + 1))
          local c = 1 / sqrt(t * t + 1)
          local s = t * c
          for k = 1, n do -- columns p, q of a
            local akp, akq = a[k][p], a[k][q]
            a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
          end
          for k = 1, n do -- rows p, q of a
            local apk, aqk = a[p][k], a[q][k]
            a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
          end
          for k = 1, n do
            local vkp, vkq = V[k][p], V[k][q]
            V[k][p], V[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
          end
        end
      end
    end
  end
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(x, y) return a[x][x] > a[y][y] end)
  local w, vecs = {}, {}
  for r, i in ipairs(order) do
    w[r] = a[i][i]
    local v = {}
    for k = 1, n do v[k] = V[k][i] end
    vecs[r] = v
  end
  return w, vecs
end

-- Singular values at or below this fraction of the largest are the teacher's null space.
local RANK_TOL = 1e-10

local function modes_of(B, C, D)
  -- eigen-decompose the smaller Gram: beta beta^T (C x C) or beta^T beta (D x D)
  local small = C <= D
  local n = small and C or D
  local G = {}
  for i = 1, n do
    G[i] = {}
    for j = 1, n do
      local s = 0
      if small then for k = 1, D do s = s + B[i][k] * B[j][k] end
      else for k = 1, C do s = s + B[k][i] * B[k][j] end end
      G[i][j] = s
    end
  end
  local w, vecs = jacobi(G)
  local out = {s = {}, z = {}, v = {}}
  local smax = sqrt(math.max(w[1], 0))
  for a = 1, n do
    local sa = sqrt(math.max(w[a], 0))
    if sa <= RANK_TOL * smax or sa == 0 then break end
    local other = {}
    if small then -- v_a = beta^T z_a / s_a
      for k = 1, D do
        local s = 0
        for c = 1, C do s = s + B[c][k] * vecs[a][c] end
        other[k] = s / sa
      end
      out.z[a], out.v[a] = vecs[a], other
    else -- z_a = beta v_a / s_a
      for c = 1, C do
        local s = 0
        for k = 1, D do s = s + B[c][k] * vecs[a][k] end
        other[c] = s / sa
      end
      out.z[a], out.v[a] = other, vecs[a]
    end
    out.s[a] = sa
  end
  return out
end

local function teacher_arg(beta, n, f)
  local B, C, D = check.matrix(beta, n, f, "teacher matrix beta (C x D)")
  for i = 1, C do
    for k = 1, D do
      local x = B[i][k]
      if x ~= x or x == math.huge or x == -math.huge then
        check.fail(n, f, ("finite entries expected, got %s at [%d, %d]"):format(tostring(x), i, k))
      end
    end
  end
  local m = modes_of(B, C, D)
  if #m.s == 0 then check.fail(n, f, "non-zero teacher expected") end
  return m, C, D
end

--- The teacher's singular modes: beta (C x D, array of rows or tensor) = sum_a s_a z_a v_a^T.
-- Returns {s = {s_1 >= s_2 >= ...}, z = {z_1, ...} (C-vectors), v = {v_1, ...} (D-vectors)},
-- the nonzero modes only (singular values above 1e-10 of the largest). Signs: z_a as the
-- eigenvector solver returns it, v_a = beta^T z_a / s_a (so s_a > 0).
function multi.teacher_modes(beta)
  local m = teacher_arg(beta, 1, "theory.teacher_modes")
  return m
end

--- Strengths c_a = z_a^T M v_a of a network map M (C x D; e.g. W^2 W^1) along each teacher
-- mode of beta; learned mode a has c_a = s_a. Returns an array.
function multi.mode_strengths(M, beta)
  local f = "theory.mode_strengths"
  local Mt, C, D = check.matrix(M, 1, f, "map M (C x D)")
  local m, Cb, Db = teacher_arg(beta, 2, f)
  if C ~= Cb or D ~= Db then
    check.fail(1, f, ("[%d x %d] expected (as beta), got [%d x %d]"):format(Cb, Db, C, D))
  end
  local out = {}
  for a = 1, #m.s do
    local z, v, s = m.z[a], m.v[a], 0
    for c = 1, C do
      local row, r = Mt[c], 0
      for k = 1, D do r = r + row[k] * v[k] end
      s = s + z[c] * r
    end
    out[a] = s
  end
  return out
end

--- Effective initial strength of each mode of a two-layer net f = W2 W1 x (W1: N x D,
-- W2: C x N): early on (M << beta) a_a = W2^T z_a and w_a = W1 v_a obey da/dt = s_a w,
-- dw/dt = s_a a, so a + w grows as e^{s_a t} while a - w decays and c_a = a.w joins the Saxe
-- sigmoid from c0_a = |a_a + w_a|^2 / 4 (the multi-output form of NOTES.md's (q0 + r0)/2).
-- Returns an array over the teacher's modes.
function multi.mode_c0(W1, W2, beta)
  local f = "theory.mode_c0"
  local A, N, D = check.matrix(W1, 1, f, "W1 (N x D)")
  local B, C, N2 = check.matrix(W2, 2, f, "W2 (C x N)")
  local m, Cb, Db = teacher_arg(beta, 3, f)
  if N2 ~= N then check.fail(2, f, ("[C x %d] expected (W1 has %d rows), got [%d x %d]"):format(N, N, C, N2)) end
  if Db ~= D then check.fail(3, f, ("%d columns expected (as W1), got %d"):format(D, Db)) end
  if Cb ~= C then check.fail(3, f, ("%d rows expected (as W2), got %d"):format(C, Cb)) end
  local out = {}
  for a = 1, #m.s do
    local z, v, s = m.z[a], m.v[a], 0
    for i = 1, N do
      local x = 0
      for c = 1, C do x = x + B[c][i] * z[c] end
      for k = 1, D do x = x + A[i][k] * v[k] end
      s = s + x * x
    end
    out[a] = s / 4
  end
  return out
end

--- Learning time of each mode: when c_a(t) from dc/dt = L c^{2-2/L}(s_a - c), c(0) = c0_a,
-- reaches level * s_a (default 1/2), exactly for the ODE (theory.t_half). s: an array of
-- singular values; c0: a number (the same start for every mode) or an array.
-- For L = 2 and c0 << s_a this is (1/(2 s_a)) log(s_a/c0 - 1) ~ (1/(2 s_a)) log(s_a/u0^2): the
-- paper's t_a = (1/s_a) log(s_a/u0^2) in its time unit, twice ours (NOTES.md: learning starts
-- near (1/2s) log(s/u0^2) with the 1/(2P) loss). For L > 2 the times scale as c0^{-(L-2)/L}/s_a.
function multi.mode_times(s, L, c0, level)
  local f = "theory.mode_times"
  s = check.vector(s, 1, f, "singular values")
  L = check.integer(L, 2, f, 2)
  local c0s = {}
  if type(c0) == "number" then
    for a = 1, #s do c0s[a] = c0 end
  else
    c0s = check.vector(c0, 3, f, "initial strengths")
    if #c0s ~= #s then check.fail(3, f, ("%d entries expected (one per mode), got %d"):format(#s, #c0s)) end
  end
  local theory = require "ntklab.theory"
  local out = {}
  for a = 1, #s do
    if not (s[a] > 0) then check.fail(1, f, ("positive singular values expected, got %s at %d"):format(tostring(s[a]), a)) end
    if not (c0s[a] > 0 and c0s[a] < s[a] * (level or 0.5)) then
      check.fail(3, f, ("0 < c0 < level * s expected for mode %d, got c0 = %s, s = %g"):format(a, tostring(c0s[a]), s[a]))
    end
    out[a] = theory.t_half(s[a], L, c0s[a], level)
  end
  return out
end

-- Inputs argument: array of rows or tensor with D columns.
local function inputs(X, n, f, D, what)
  local Xt, P, Dx = check.matrix(X, n, f, what)
  if Dx ~= D then check.fail(n, f, ("%s: %d columns expected (as beta), got %d"):format(what, D, Dx)) end
  return Xt, P
end

-- A B^T for two arrays of rows of one length.
local function row_dots(A, B)
  local G = {}
  for i = 1, #A do
    local row, ai = {}, A[i]
    for j = 1, #B do
      local s, bj = 0, B[j]
      for k = 1, #ai do s = s + ai[k] * bj[k] end
      row[j] = s
    end
    G[i] = row
  end
  return G
end

-- x^T (beta^T beta)^p x' for every pair: p = 0 gives x.x', p > 0 sum_a s_a^{2p} (v_a.x)(v_a.x').
local function input_gram(m, p, X1, X2)
  if p == 0 then return row_dots(X1, X2) end
  local D = #X1[1]
  local function proj(X)
    local out = {}
    for i = 1, #X do
      local r = {}
      for a = 1, #m.s do
        local s, v = 0, m.v[a]
        for k = 1, D do s = s + X[i][k] * v[k] end
        r[a] = s * m.s[a] ^ p
      end
      out[i] = r
    end
    return out
  end
  local A1 = proj(X1)
  return row_dots(A1, X2 == X1 and A1 or proj(X2))
end

-- [(beta beta^T)^p]_cc': p = 0 gives I_C, p > 0 sum_a s_a^{2p} z_ac z_ac'.
local function output_power(m, p, C)
  local out = {}
  for c = 1, C do
    out[c] = {}
    for d = 1, C do
      local s = 0
      if p == 0 then s = c == d and 1 or 0
      else for a = 1, #m.s do s = s + m.s[a] ^ (2 * p) * m.z[a][c] * m.z[a][d] end end
      out[c][d] = s
    end
  end
  return out
end

-- The arguments every final kernel takes: the teacher beta (argument 1), the depth L (argument 2)
-- and the rows of X and X2 (default X) at arguments xarg and xarg + 1. Returns the teacher's
-- modes, C, L, X, P and X2, P2.
local function final_kernel_args(f, beta, L, X, X2, xarg)
  local m, C, D = teacher_arg(beta, 1, f)
  L = check.integer(L, 2, f, 1)
  local X1, P1 = inputs(X, xarg, f, D, "inputs X")
  local X2t, P2 = X1, P1
  if X2 ~= nil then X2t, P2 = inputs(X2, xarg + 1, f, D, "inputs X2") end
  return m, C, L, X1, P1, X2t, P2
end

-- Derivation of the final NTK: layer l's weights contribute (A_l A_l^T)_cc' x^T B_l^T B_l x',
-- A_l = W^L ... W^{l+1} (C x n_l, the identity for l = L), B_l = W^{l-1} ... W^1 (the identity
-- for l = 1). Balanced and converged, W^l = sum_a s_a^{1/L} r^{l+1}_a r^l_a^T with r^1 = v,
-- r^{L+1} = z, so A_l A_l^T = (beta beta^T)^{(L-l)/L} and B_l^T B_l = (beta^T beta)^{(l-1)/L}.

--- The final NTK of a depth-L linear net trained to the teacher beta (C x D), between the rows
-- of X (P x D) and X2 (default X), O(sigma) corrections dropped. output = "full" (default):
-- the (P C) x (P2 C) sample-major kernel of ntklab.ntk's "full" layout (row mu*C + c);
-- "trace": the P x P2 sum over outputs (ntklab.ntk's "trace"). Returns an array of rows.
function multi.final_ntk_multi(beta, L, X, X2, output)
  local f = "theory.final_ntk_multi"
  local m, C, X1, P1, X2t, P2
  m, C, L, X1, P1, X2t, P2 = final_kernel_args(f, beta, L, X, X2, 3)
  output = output or "full"
  if output ~= "full" and output ~= "trace" then
    check.fail(5, f, ("'full' or 'trace' expected, got %s"):format(tostring(output)))
  end
  local terms = {}
  for l = 1, L do
    local A = output_power(m, (L - l) / L, C)
    local tr = 0
    for c = 1, C do tr = tr + A[c][c] end
    terms[l] = {A = A, trace = tr, G = input_gram(m, (l - 1) / L, X1, X2t)}
  end
  local K = {}
  if output == "trace" then
    for i = 1, P1 do
      local row = {}
      for j = 1, P2 do
        local s = 0
        for l = 1, L do s = s + terms[l].trace * terms[l].G[i][j] end
        row[j] = s
      end
      K[i] = row
    end
    return K
  end
  for i = 1, P1 do
    for c = 1, C do
      local row = {}
      for j = 1, P2 do
        for d = 1, C do
          local s = 0
          for l = 1, L do s = s + terms[l].A[c][d] * terms[l].G[i][j] end
          row[(j - 1) * C + d] = s
        end
      end
      K[(i - 1) * C + c] = row
    end
  end
  return K
end

--- Eq. 80: the final NNGP kernel of layer l (0 <= l <= L; the activations W^l ... W^1 x) of a
-- depth-L linear net trained to beta, x^T (beta^T beta)^{l/L} x', between the rows of X and X2
-- (default X). From the input Gram X X^T at l = 0 to beta-projected Y Y^T at l = L.
function multi.final_nngp_multi(beta, L, layer, X, X2)
  local f = "theory.final_nngp_multi"
  local m, X1, X2t, _
  m, _, L, X1, _, X2t = final_kernel_args(f, beta, L, X, X2, 4)
  layer = check.integer(layer, 3, f, 0)
  if layer > L then check.fail(3, f, ("layer in [0, %d] expected, got %d"):format(L, layer)) end
  return input_gram(m, layer / L, X1, X2t)
end

--- The final (uncentered) alignment y^T K y / (|K|_F |y|^2) of the traced final NTK with the
-- C-output teacher's targets on X: <K, Y Y^T> / (|K|_F |Y Y^T|_F), Y = X beta^T, as
-- ntklab.alignment(K_trace, Y) measures it (the dashed line of Figure H.1).
function multi.final_alignment_multi(beta, L, X)
  local f = "theory.final_alignment_multi"
  local _, C, Xt, P
  _, C, L, Xt, P = final_kernel_args(f, beta, L, X, nil, 3)
  local K = multi.final_ntk_multi(beta, L, X)
  local Kt = {}
  for i = 1, P do
    Kt[i] = {}
    for j = 1, P do
      local s = 0
      for c = 1, C do s = s + K[(i - 1) * C + c][(j - 1) * C + c] end
      Kt[i][j] = s
    end
  end
  local Y = row_dots(Xt, check.matrix(beta, 1, f)) -- Y = X beta^T
  local inner, kk, tt = 0, 0, 0
  for i = 1, P do
    for j = 1, P do
      local t = 0
      for c = 1, C do t = t + Y[i][c] * Y[j][c] end
      inner, kk, tt = inner + Kt[i][j] * t, kk + Kt[i][j] ^ 2, tt + t * t
    end
  end
  return inner / (sqrt(kk) * sqrt(tt))
end

return multi
