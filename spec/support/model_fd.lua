--- spec/support/model_fd.lua: central finite differences of a model's loss, for the gradient
-- checks of specs 10, 14, 17 and 18 (ntklab.mlp, ntklab.model, ntklab.wide_resnet, the image
-- layers: anything with grad, loss, params and nparams).
--
-- Central differences with h = 1e-6 on O(1) losses: truncation ~ h^2 |L'''| ~ 1e-12, rounding
-- ~ eps |L| / h ~ 1e-10; a correct gradient lands near 1e-9 relative, far below the issue's 1e-6.
local model_fd = {STEP = 1e-6}

--- max_i |g_i - (L(theta + h e_i) - L(theta - h e_i)) / 2h| / max_i |g_i| over every `every`-th
-- parameter (default all), g = m:grad(X, Y). The parameters are restored.
function model_fd.loss_grad_error(m, X, Y, every)
  local h = model_fd.STEP
  local g = m:grad(X, Y)
  local p = m:params()
  local worst = 0
  for i = 1, m:nparams(), every or 1 do
    local v = p:get(i)
    p:set(i, v + h)
    local lp = m:loss(X, Y)
    p:set(i, v - h)
    local lm = m:loss(X, Y)
    p:set(i, v)
    worst = math.max(worst, math.abs(g:get(i) - (lp - lm) / (2 * h)))
  end
  return worst / g:abs():max()
end

return model_fd
