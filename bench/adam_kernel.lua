-- bench/adam_kernel.lua: the Adam kernel (ntklab.ntk with eta, Eq. 91) of the 784-100-1 ReLU net
-- against the plain NTK, and its rate in GFLOP/s of P^2 #params (issue 17).
--   build/bin/ntklab bench/adam_kernel.lua [P]     (default 1000)
local ntklab=require"ntklab"
local clock = require"ntklab.core".clock
local P = tonumber(arg[1]) or 1000
local X=ntklab.rng(1):normal(P,784)
local net=ntklab.mlp{widths={784,100,1},activation="relu",seed=1}
local eta = ntklab.rng(2):uniform(net:nparams()) + 0.5
local ws = ntklab.kernel_workspace()
local K = ntklab.zeros(P, P)
local t = clock(); ntklab.ntk(net, X, {eta = eta, workspace = ws, out = K}); local te = clock() - t
t = clock(); ntklab.ntk(net, X, {eta = eta, workspace = ws, out = K}); te = math.min(te, clock() - t)
t = clock(); for i=1,5 do ntklab.ntk(net, X, {workspace = ws, out = K}) end; local tp = (clock() - t)/5
local flops = P * P * net:nparams()
print(("P %d eta %.3f s (%.1f GFLOP/s of P^2 #params) plain ntk %.4f s"):format(P, te, flops / te / 1e9, tp))
