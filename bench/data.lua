-- bench/data.lua: load the Fashion-MNIST training set, whiten P = 1000 of its images (D = 784)
-- and partially whiten them for 5 values of gamma. Prints each time and the total beyond the
-- load (goal: under 1 s). Run: build/bin/ntklab bench/data.lua [P] [repeats] [threads]
local ntklab = require "ntklab"
local data = require "ntklab.data"
local pre = require "ntklab.preprocess"

local P = tonumber(arg and arg[1]) or 1000
local repeats = tonumber(arg and arg[2]) or 3
if arg and arg[3] then ntklab.threads(math.tointeger(tonumber(arg[3]))) end
-- wall-clock seconds when the engine offers them (ntklab.clock), else CPU seconds summed over
-- threads (os.clock), an upper bound of the wall time
local clock = ntklab.clock or os.clock
local timer = ntklab.clock and "wall time" or "CPU time"

local dir = data.FASHION_MNIST_DIR
local t0 = clock()
local X = assert(ntklab.io.read_idx(dir .. "/train-images-idx3-ubyte.gz"))
local y = assert(ntklab.io.read_idx(dir .. "/train-labels-idx1-ubyte.gz"))
local t_load = clock() - t0
print(("load: %d x %d images + %d labels (gzip IDX): %.3f s (" .. timer .. ")"):format(X:size(1), X:size(2),
  y:size(1), t_load))

-- P images, stratified over the 10 classes, scaled to [0, 1]
local labels = {}
for i = 1, y:size(1) do labels[i] = math.tointeger(y:get(i)) end
t0 = clock()
local idx = data.stratified(labels, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, P, ntklab.rng(0))
local Xp = X:gather(idx):mul_(1 / 255)
local t_select = clock() - t0
X = nil
collectgarbage()

local gammas = {0.1, 0.3, 0.5, 0.7, 0.9}
local best = {}
for _ = 1, repeats do
  local times = {}
  t0 = clock()
  local pp = assert(pre.fit(Xp, {zca = true}))
  times.fit = clock() - t0
  t0 = clock()
  local Xw = pp:transform(Xp)
  times.whiten = clock() - t0
  assert(Xw:size(1) == P)
  times.partial = 0
  for _, g in ipairs(gammas) do
    t0 = clock()
    local Xg = pp:with{gamma = g}:transform(Xp)
    times.partial = times.partial + clock() - t0
    assert(Xg:size(2) == 784)
  end
  times.rank = pp.rank
  if not best.fit or times.fit + times.whiten + times.partial < best.fit + best.whiten + best.partial then
    best = times
  end
end
print(("select %d images: %.3f s"):format(P, t_select))
print(("fit (centering + SVD of %d x 784, rank %d): %.3f s"):format(P, best.rank, best.fit))
print(("whiten (transform): %.3f s"):format(best.whiten))
print(("partial whitening, 5 gammas (%s): %.3f s (%.3f s each)"):format(table.concat(gammas, ", "),
  best.partial, best.partial / #gammas))
print(("total beyond the load: %.3f s (best of %d; %s, %d BLAS threads)"):format(
  t_select + best.fit + best.whiten + best.partial, repeats, timer, ntklab.threads()))
