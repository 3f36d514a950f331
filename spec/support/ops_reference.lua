-- spec/support/ops_reference.lua: plain-Lua reference implementations and layout builders
-- shared by the specs (tensor ops, linalg, mlp, train, regress, path kernel); not a spec itself.
local ntklab = require "ntklab"

local ref = {}

-- A small deterministic generator (64-bit LCG, Knuth's MMIX constants) so the specs depend on
-- nothing but Lua: the values only need to be varied and reproducible.
function ref.generator(seed)
  local state = seed
  return function(lo, hi)
    state = state * 6364136223846793005 + 1442695040888963407
    local u = ((state >> 11) & ((1 << 53) - 1)) / (1 << 53)
    return lo + (hi - lo) * u
  end
end

function ref.matrix(gen, m, n, lo, hi)
  local t = {}
  for i = 1, m do
    t[i] = {}
    for j = 1, n do t[i][j] = gen(lo or -1, hi or 1) end
  end
  return t
end

function ref.vector(gen, n, lo, hi)
  local t = {}
  for i = 1, n do t[i] = gen(lo or -1, hi or 1) end
  return t
end

function ref.transpose(t)
  local r = {}
  local m, n = #t, (t[1] and #t[1] or 0)
  for j = 1, n do
    r[j] = {}
    for i = 1, m do r[j][i] = t[i][j] end
  end
  return r
end

local function filler(gen, m, n)
  return ref.matrix(gen, m, n, 100, 200) -- values a wrong index would reveal at once
end

-- Tensors holding the 2-D table t in different layouts: {name, tensor} pairs. Each view sits
-- inside a larger buffer of unrelated values, so an op that strays outside the view is seen.
function ref.layouts2(t, gen)
  gen = gen or ref.generator(7)
  local m, n = #t, #t[1]
  local out = {{"contiguous", ntklab.tensor(t)}}
  out[#out + 1] = {"transposed", ntklab.tensor(ref.transpose(t)):t()}
  local big = filler(gen, m + 2, n + 3)
  for i = 1, m do for j = 1, n do big[i + 1][j + 2] = t[i][j] end end
  out[#out + 1] = {"narrowed", ntklab.tensor(big):narrow(1, 2, m):narrow(2, 3, n)}
  local bigt = filler(gen, n + 3, m + 1)
  for i = 1, m do for j = 1, n do bigt[j + 2][i] = t[i][j] end end
  out[#out + 1] = {"narrowed transpose", ntklab.tensor(bigt):t():narrow(2, 3, n):narrow(1, 1, m)}
  return out
end

-- Tensors holding the 1-D table v in different layouts.
function ref.layouts1(v, gen)
  gen = gen or ref.generator(11)
  local n = #v
  local out = {{"contiguous", ntklab.tensor(v)}}
  local rows = filler(gen, 3, n)
  rows[2] = {table.unpack(v)}
  out[#out + 1] = {"row view", ntklab.tensor(rows):select(1, 2)}
  local cols = filler(gen, n, 3)
  for i = 1, n do cols[i][2] = v[i] end
  out[#out + 1] = {"strided column", ntklab.tensor(cols):select(2, 2)}
  local sq = filler(gen, n, n)
  for i = 1, n do sq[i][i] = v[i] end
  out[#out + 1] = {"diagonal view", ntklab.tensor(sq):diagonal()}
  return out
end

function ref.layouts(t, gen)
  if type(t[1]) == "table" then return ref.layouts2(t, gen) end
  return ref.layouts1(t, gen)
end

-- Element-wise f over tables of equal shape (or numbers).
function ref.map(t, f)
  local r = {}
  for i, x in ipairs(t) do
    if type(x) == "table" then r[i] = ref.map(x, f) else r[i] = f(x) end
  end
  return r
end

function ref.zip(a, b, f)
  local r = {}
  for i, x in ipairs(a) do
    if type(x) == "table" then r[i] = ref.zip(x, b[i], f) else r[i] = f(x, b[i]) end
  end
  return r
end

-- The largest |a - b| relative to max(1, |b|) over nested tables (or tensors, via totable);
-- NaN matches NaN, equal infinities match.
function ref.maxdiff(a, b)
  if type(a) == "userdata" then a = a:totable() end
  if type(b) == "userdata" then b = b:totable() end
  if type(a) == "number" then
    if a ~= a and b ~= b then return 0 end
    if a == b then return 0 end
    local d = math.abs(a - b) / math.max(1, math.abs(b))
    return d == d and d or math.huge
  end
  assert(type(b) == "table" and #a == #b, "shape differs: " .. #a .. " vs " .. tostring(b and #b))
  local worst = 0
  for i = 1, #a do worst = math.max(worst, ref.maxdiff(a[i], b[i])) end
  return worst
end

function ref.shape(t)
  if type(t[1]) == "table" then return {#t, #t[1]} end
  return {#t}
end

-- a (m x k) times b (k x n), over nested tables or tensors; transA / transB multiply by a^T /
-- b^T instead, reading the tables transposed.
function ref.matmul(a, b, transA, transB)
  if type(a) == "userdata" then a = a:totable() end
  if type(b) == "userdata" then b = b:totable() end
  local function A(i, k) if transA then return a[k][i] else return a[i][k] end end
  local function B(k, j) if transB then return b[j][k] else return b[k][j] end end
  local m, kk = transA and #a[1] or #a, transA and #a or #a[1]
  local n = transB and #b or #b[1]
  local r = {}
  for i = 1, m do
    r[i] = {}
    for j = 1, n do
      local s = 0
      for k = 1, kk do s = s + A(i, k) * B(k, j) end
      r[i][j] = s
    end
  end
  return r
end

-- A x for a 2-D table A and a 1-D table x (matmul with x as one row of b^T).
function ref.matvec(A, x)
  local y = {}
  for i, row in ipairs(ref.matmul(A, {x}, false, true)) do y[i] = row[1] end
  return y
end

-- X^T X / P for the rows of a P x D table: the inputs' second-moment (covariance) matrix.
function ref.second_moment(X)
  local S = ref.matmul(X, X, true)
  for _, row in ipairs(S) do for j = 1, #row do row[j] = row[j] / #X end end
  return S
end

-- max |a_ij| over a 2-D table.
function ref.maxabs(a)
  local m = 0
  for _, row in ipairs(a) do for _, v in ipairs(row) do m = math.max(m, math.abs(v)) end end
  return m
end

-- The largest absolute |a - b| over 1-D or 2-D tables of the same shape (a shape mismatch is
-- an error, not a small difference).
function ref.absdiff(a, b)
  assert(#a == #b, "row count differs: " .. #a .. " vs " .. #b)
  local d = 0
  for i = 1, #a do
    if type(a[i]) == "table" then
      assert(#a[i] == #b[i], "row " .. i .. " length differs: " .. #a[i] .. " vs " .. #b[i])
      for j = 1, #a[i] do d = math.max(d, math.abs(a[i][j] - b[i][j])) end
    else
      d = math.max(d, math.abs(a[i] - b[i]))
    end
  end
  return d
end

-- x = M^{-1} b (M a square table, b a list) by Gaussian elimination with partial pivoting:
-- the independent twin of LAPACK's solves.
function ref.gauss_solve(M, b)
  local n = #M
  local a = {}
  for i = 1, n do
    a[i] = {}
    for j = 1, n do a[i][j] = M[i][j] end
    a[i][n + 1] = b[i]
  end
  for c = 1, n do
    local p = c
    for r = c + 1, n do if math.abs(a[r][c]) > math.abs(a[p][c]) then p = r end end
    a[c], a[p] = a[p], a[c]
    for r = c + 1, n do
      local f = a[r][c] / a[c][c]
      for j = c, n + 1 do a[r][j] = a[r][j] - f * a[c][j] end
    end
  end
  local x = {}
  for i = n, 1, -1 do
    local s = a[i][n + 1]
    for j = i + 1, n do s = s - a[i][j] * x[j] end
    x[i] = s / a[i][i]
  end
  return x
end

return ref
