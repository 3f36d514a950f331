-- 54-silent_alignment_adam: experiments/silent_alignment.lua --trainer adam on a tiny teacher
-- problem reports the final-Adam-kernel predictor (summary.json, predictions.csv, the Adam
-- columns of trajectory.csv, scripts/demo_summary.lua), and its numbers are those of the
-- predictions it wrote, recomputed here in plain Lua; without adam none of it appears.
local output = require "ntklab.output"

local files = require "spec.support.files"
local q, host = files.q, files.host
local script = files.source_dir .. "/experiments/silent_alignment.lua"
local demo_summary = files.source_dir .. "/scripts/demo_summary.lua"

-- rel_err and corr recomputed from the CSV's 17 significant digits vs the summary's doubles.
local TOL = 1e-12

local TINY = "--dataset teacher --P 40 --dim 8 --test 12 --width 16 --records 20 --t-max 20 "
  .. "--no-plots --no-path-kernel --quiet"

local run = files.sh

local function read_csv(path)
  local f = assert(io.open(path))
  local header = {}
  for c in f:read("l"):gmatch("[^,]+") do header[#header + 1] = c end
  local cols = {}
  for _, h in ipairs(header) do cols[h] = {} end
  for line in f:lines() do
    local i = 0
    for c in (line .. ","):gmatch("([^,]*),") do
      i = i + 1
      table.insert(cols[header[i]], tonumber(c) or c)
    end
  end
  f:close()
  return header, cols
end

local function has(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

describe("silent_alignment --trainer adam", function()
  it("reports the final Adam kernel predictor, consistent with its predictions", function()
    local dir = files.scratch_dir()
    -- asks for the path-kernel predictor, which Adam runs must skip
    local out, code = run(q(host) .. " run " .. q(script) .. " " .. TINY:gsub("%-%-no%-path%-kernel", "--path-kernel")
      .. " --trainer adam --lr 1e-2 --out " .. q(dir))
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/summary.json"))
    local pa = s.predictors.final_adam_kernel
    assert.is_table(pa)
    assert.is_number(pa.corr)
    assert.is_number(pa.rel_err)
    assert.is_number(s.predictors.test_error_final_adam_kernel)
    assert.are.equal("adam", s.trainer.method)
    -- the path-kernel predictor integrates plain gradient flow: skipped for Adam, with the reason
    assert.is_nil(s.predictors.path_kernel)
    assert.matches("skipped for trainer adam", s.predictors.path_kernel_skipped)
    local header, cols = read_csv(dir .. "/predictions.csv")
    assert.is_true(has(header, "adam_kernel"))
    assert.is_false(has(header, "path_kernel"))
    -- rel_err = |pred - net| / |net| and the Pearson correlation, from the written columns
    local a, n = cols.adam_kernel, cols.net
    local d2, n2, ma, mn = 0, 0, 0, 0
    for i = 1, #n do
      d2, n2 = d2 + (a[i] - n[i]) ^ 2, n2 + n[i] ^ 2
      ma, mn = ma + a[i] / #n, mn + n[i] / #n
    end
    local sab, saa, snn = 0, 0, 0
    for i = 1, #n do
      sab = sab + (a[i] - ma) * (n[i] - mn)
      saa, snn = saa + (a[i] - ma) ^ 2, snn + (n[i] - mn) ^ 2
    end
    assert.is_true(math.abs(pa.rel_err - math.sqrt(d2 / n2)) < TOL * math.max(1, pa.rel_err))
    assert.is_true(math.abs(pa.corr - sab / math.sqrt(saa * snn)) < TOL)
    -- the Adam kernel differs from the plain NTK: its predictor is not the final NTK's
    assert.are_not.equal(pa.rel_err, s.predictors.final_ntk.rel_err)
    header, cols = read_csv(dir .. "/trajectory.csv")
    for _, c in ipairs{"adam_norm", "adam_alignment", "adam_alignment_centered"} do
      assert.is_true(has(header, c), c)
      assert.are.equal("nan", cols[c][1]) -- t = 0: before Adam's first step
      assert.is_true(cols[c][#cols[c]] > 0, c)
    end
    out, code = run(q(host) .. " " .. q(demo_summary) .. " " .. q(dir .. "/summary.json"))
    assert.are.equal(0, code, out)
    assert.is_truthy(out:find("Adam kernel   rel L2 error", 1, true), out)
    files.remove_tree(dir)
  end)

  it("has no Adam kernel without --trainer adam", function()
    local dir = files.scratch_dir()
    local out, code = run(q(host) .. " run " .. q(script) .. " " .. TINY .. " --out " .. q(dir))
    assert.are.equal(0, code, out)
    local s = assert(output.read_json(dir .. "/summary.json"))
    assert.is_nil(s.predictors.final_adam_kernel)
    assert.is_nil(s.predictors.path_kernel_skipped)
    local header, cols = read_csv(dir .. "/predictions.csv")
    assert.is_false(has(header, "adam_kernel"))
    header = read_csv(dir .. "/trajectory.csv")
    assert.is_false(has(header, "adam_norm"))
    out, code = run(q(host) .. " " .. q(demo_summary) .. " " .. q(dir .. "/summary.json"))
    assert.are.equal(0, code, out)
    assert.is_falsy(out:find("Adam kernel", 1, true), out)
    files.remove_tree(dir)
  end)
end)
