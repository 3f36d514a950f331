--- ntklab.preprocess: input preprocessing fitted on a training set and applied to any inputs.
--
--   local pp = preprocess.fit(X_train, {center = true, gamma = 0})   -- ZCA whitening
--   local Xw, Xw_test = pp:transform(X_train), pp:transform(X_test)
--
-- fit(X, opts) computes, from the training inputs X [P x D] only:
--   mean (center = true, the default): the column means mu [1 x D];
--   sd (standardize = true): the column standard deviations (constant columns keep sd = 1);
--   the thin SVD Z = U S V^T of the centered (standardized) inputs Z, and its numerical rank
--   r = #{k : s_k > rcond * s_1}; U [P x r], S [r], V [D x r] keep the r retained directions.
--   rcond defaults to max(P, D) * 2^-52 (numpy's matrix_rank cutoff): singular values below
--   it are rounding noise of a rank-deficient Z (MNIST's always-black pixels), and whitening
--   would blow them up to unit variance.
-- The transform of an input row x (after centering/standardizing to z) is
--   gamma given:  z -> c z V S^(gamma-1) V^T   (partial whitening, D outputs)
--   pca = k:      z -> c z V_k S_k^(gamma-1)   (first k principal components; gamma = 1 by
--                                              default: plain projection; 0: PCA whitening)
--   neither:      z -> c z
-- On the training rows z V = U S, so they map exactly to c U S^gamma V^T (c U_k S_k^gamma
-- for pca): gamma = 1 is the raw data, gamma = 0 fully whitened. Inputs outside the training
-- span lose their component orthogonal to it (they are projected onto the span of V, as the
-- training statistics know nothing else).
-- The scale c defaults to P^((1-gamma)/2): the training covariance Z^T Z / P = V diag(lambda) V^T,
-- lambda_k = s_k^2 / P, becomes V diag(lambda^gamma) V^T exactly, so whitened data have
-- X^T X / P = I on the data span. norm = m instead picks c so that the training rows have
-- mean squared norm m.
-- zca = true is gamma = 0. pp.rank, pp.spectrum (all min(P, D) covariance eigenvalues
-- s_k^2 / P, descending, for an "input spectra" plot) and pp.lambda (the retained ones) are
-- exposed, as are U, S, V, mean, sd, c.
-- Errors: misuse raises at the caller (an unknown option names the valid ones and a near miss);
-- inputs that cannot be whitened (NaN or Inf, all zero) return nil, message, as the core's
-- numerical failures do.
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"

local preprocess = {}
local Preprocessor = {}
Preprocessor.__index = Preprocessor

local EPS = 2.0 ^ -52

local FIT_OPTIONS = {"center", "standardize", "gamma", "zca", "pca", "rcond", "norm"}
local WITH_OPTIONS = {"gamma", "zca", "pca", "norm"}

local function check_tensor(fname, n, X)
  local ok = pcall(function() return X:dim() end)
  if not ok or getmetatable(X) ~= core.metatable("tensor") then
    check.fail(n, fname, "tensor expected, got " .. check.typename(X))
  end
  if X:dim() ~= 2 then
    check.fail(n, fname, ("2-D tensor of inputs expected, got %d-D"):format(X:dim()))
  end
end

-- Validates the options that choose the transform (the option table is argument n of fname);
-- returns gamma, pca, norm.
local function transform_options(fname, n, opts, D)
  local gamma = opts.gamma
  if opts.zca then
    if gamma ~= nil and gamma ~= 0 then check.fail(n, fname, "options 'zca' and 'gamma' conflict") end
    gamma = 0
  end
  if gamma ~= nil and (type(gamma) ~= "number" or not (gamma >= 0 and gamma <= 1)) then
    check.fail(n, fname, ("option 'gamma': number in [0, 1] expected, got %s"):format(tostring(gamma)))
  end
  local pca = opts.pca
  if pca ~= nil and (math.type(pca) ~= "integer" or pca < 1 or pca > D) then
    check.fail(n, fname, ("option 'pca': integer in [1, %d] expected, got %s"):format(D, tostring(pca)))
  end
  local norm = opts.norm
  if norm ~= nil and (type(norm) ~= "number" or not (norm > 0) or norm == math.huge) then
    check.fail(n, fname, ("option 'norm': positive number expected, got %s"):format(tostring(norm)))
  end
  return gamma, pca, norm
end

-- Sets the transform of pp (mode, gamma, k, c and the matrix M applied to centered rows).
local function configure(pp, gamma, pca, norm)
  local P, r = pp.P, pp.rank
  pp.gamma, pp.pca, pp.norm = gamma, pca, norm
  pp.M = nil
  if gamma == nil and pca == nil then
    -- no spectral transform: only the scale
    local msq = 0
    for k = 1, #pp.all_s do msq = msq + pp.all_s[k] ^ 2 end
    msq = msq / P
    pp.c = norm and (msq > 0 and math.sqrt(norm / msq) or 1) or 1
    return pp
  end
  local g = gamma or 1
  local k = pca and math.min(pca, r) or r
  pp.k = k
  -- scale: covariance eigenvalues lambda -> lambda^gamma, or a given mean squared norm
  local c
  if norm then
    local sum = 0
    for i = 1, k do sum = sum + pp.S:get(i) ^ (2 * g) end
    c = sum > 0 and math.sqrt(norm * P / sum) or 1
  else
    c = P ^ ((1 - g) / 2)
  end
  pp.c = c
  local Vk = pp.V:narrow(2, 1, k)
  local w = core.zeros(1, k)
  for i = 1, k do w:set(1, i, c * pp.S:get(i) ^ (g - 1)) end
  local VW = Vk:mul(w)                                -- V_k diag(c s^(gamma-1))
  pp.M = pca and VW or VW:matmul(Vk:t())              -- [D x k] or [D x D]
  return pp
end

--- Fits the statistics and the transform on training inputs (the module comment has the math).
-- @tparam tensor X training inputs [P x D]
-- @tparam[opt] table opts
-- @tparam[opt=true] bool opts.center subtract the column means
-- @tparam[opt=false] bool opts.standardize divide by the column standard deviations
-- @tparam[opt] number opts.gamma partial whitening exponent in [0, 1]: covariance eigenvalues
-- lambda -> lambda^gamma (0: whitened, 1: raw)
-- @tparam[opt=false] bool opts.zca gamma = 0
-- @tparam[opt] int opts.pca keep the first k principal components, k in [1, D]
-- @tparam[opt] number opts.rcond relative singular value cutoff in [0, 1) (default max(P, D) 2^-52)
-- @tparam[opt] number opts.norm scale so that the training rows have this mean squared norm
-- @treturn table the preprocessor (pp:transform, pp:with, pp:training; fields rank, spectrum, lambda, U, S, V, mean, sd, c)
-- @return nil, msg when X holds NaN or Inf, or is all zero once centered
-- @raise an unknown option (with a did-you-mean), a bad value, conflicting zca and gamma
function preprocess.fit(X, opts)
  check_tensor("fit", 1, X)
  opts = check.options(opts, 2, "fit", FIT_OPTIONS)
  local P, D = X:size(1), X:size(2)
  if P < 1 or D < 1 then
    check.fail(1, "fit", ("non-empty inputs expected, got [%d x %d]"):format(P, D))
  end
  local rcond = opts.rcond
  if rcond ~= nil and (type(rcond) ~= "number" or not (rcond >= 0 and rcond < 1)) then
    check.fail(2, "fit", "option 'rcond': number in [0, 1) expected, got " .. tostring(rcond))
  end
  rcond = rcond or math.max(P, D) * EPS
  local gamma, pca, norm = transform_options("fit", 2, opts, D)
  if not X:all_finite() then return nil, "fit: inputs contain NaN or Inf" end

  local pp = setmetatable({P = P, D = D, rcond = rcond}, Preprocessor)
  local Z = X:clone()
  if opts.center ~= false then
    pp.mean = X:mean(1)
    Z:sub_(pp.mean)
  end
  if opts.standardize then
    local sd = Z:square():mean(1):sqrt_()
    for j = 1, D do
      -- a constant column stays as it is (zero once centered) instead of dividing by 0
      if not (sd:get(1, j) > 0) then sd:set(1, j, 1) end
    end
    pp.sd = sd
    Z:div_(sd)
  end
  local U, s, Vt = core.linalg.svd(Z)
  if not U then return nil, "fit: " .. s end
  local n = s:size(1)
  local r = 0
  local smax = n > 0 and s:get(1) or 0
  for i = 1, n do
    if s:get(i) > rcond * smax then r = i end
  end
  pp.rank = r
  pp.all_s = {}
  pp.spectrum = core.zeros(n)
  for i = 1, n do
    pp.all_s[i] = s:get(i)
    pp.spectrum:set(i, s:get(i) ^ 2 / P)
  end
  if r == 0 then return nil, "fit: the (centered) inputs are all zero: nothing to whiten" end
  pp.U = U:narrow(2, 1, r):contiguous()
  pp.S = s:narrow(1, 1, r):clone()
  pp.V = Vt:narrow(1, 1, r):t():contiguous()
  pp.lambda = pp.S:square():div_(P)
  return configure(pp, gamma, pca, norm)
end

--- A new preprocessor sharing pp's fitted statistics and SVD (no refactorization), with
-- another transform.
-- @tparam table opts gamma, zca, pca, norm, as for fit
-- @treturn table the preprocessor
function Preprocessor:with(opts)
  check.table(opts, 1, "with")
  check.options(opts, 1, "with", WITH_OPTIONS)
  local gamma, pca, norm = transform_options("with", 1, opts, self.D)
  local pp = setmetatable({}, Preprocessor)
  for key, v in pairs(self) do pp[key] = v end
  return configure(pp, gamma, pca, norm)
end

--- Applies the fitted transform to any inputs.
-- @tparam tensor X [n x D]
-- @treturn tensor a new tensor, [n x D] or [n x k] for pca
function Preprocessor:transform(X)
  check_tensor("transform", 1, X)
  if X:size(2) ~= self.D then
    check.fail(1, "transform", ("inputs of %d features expected, got [%d x %d]"):format(self.D, X:size(1), X:size(2)))
  end
  local Z, fresh = X, false
  if self.mean then Z, fresh = Z:sub(self.mean), true end
  if self.sd then
    if fresh then Z:div_(self.sd) else Z, fresh = Z:div(self.sd), true end
  end
  if self.M then return Z:matmul(self.M) end
  if fresh then return Z:mul_(self.c) end
  return X:mul(self.c)
end

--- pp:training() -> the transformed training inputs computed from the factors:
-- c U S^gamma V^T (c U_k S_k^gamma with pca; c Z without a spectral transform is not
-- available from the factors and returns nil).
function Preprocessor:training()
  if not self.M then return nil end
  local g = self.gamma or 1
  local k = self.k
  local w = core.zeros(1, k)
  for i = 1, k do w:set(1, i, self.c * self.S:get(i) ^ g) end
  local US = self.U:narrow(2, 1, k):mul(w)
  if self.pca then return US end
  return US:matmul(self.V:narrow(2, 1, k):t())
end

--- X scaled so that its rows have mean squared norm m.
-- @tparam tensor X [n x D]
-- @number m > 0
-- @treturn tensor a new tensor
-- @return nil, msg when X is all zero
function preprocess.rescale(X, m)
  check_tensor("rescale", 1, X)
  if type(m) ~= "number" or not (m > 0) or m == math.huge then
    check.fail(2, "rescale", "positive number expected, got " .. tostring(m))
  end
  local msq = X:square():sum() / X:size(1)
  if not (msq > 0) then return nil, "rescale: the inputs are all zero" end
  return X:mul(math.sqrt(m / msq))
end

return preprocess
