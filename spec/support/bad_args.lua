--- spec/support/bad_args.lua: the shared registry of table-driven bad-argument cases.
--
-- Every binding function gets rows in a bad-argument table. A spec hands its rows to
-- bad_args.cases, at describe level (not inside an `it`), passing its own `it`:
--
--   local bad_args = require "spec.support.bad_args"
--   describe("bad arguments", function()
--     bad_args.cases(it, {
--       {"ntklab.zeros", function() ntklab.zeros(-1) end, "bad argument #1 to 'zeros'"},
--       {"tensor:get", function() t:get(0) end, "index 0 out of range [1, 2]"},
--     })
--   end)
--
-- Row: {name, fn, expected}. fn must raise an error whose message contains `expected`
-- (plain text, not a pattern); each row becomes one `it`. Names:
--   "ntklab.<path>"       a function in the module table, e.g. "ntklab.linalg.eigh"
--   "<type>:<method>"     a method of the ntklab.<type> metatable's __index, e.g. "rng:normal"
--   "<type>.<metamethod>" a metamethod that user code can reach with a bad operand, "tensor.__add"
-- spec/99-bad_arguments_coverage_spec.lua reloads the specs that use this module with a stub
-- `it`, reads `covered`, and fails for any function of the module without a row.
local bad_args = {covered = {}}

function bad_args.cases(it, rows)
  for i, row in ipairs(rows) do
    local name, fn, expected = row[1], row[2], row[3]
    if type(name) ~= "string" or type(fn) ~= "function" or type(expected) ~= "string" then
      error(("bad_args row %d: {name, function, expected substring} expected"):format(i), 2)
    end
    bad_args.covered[name] = (bad_args.covered[name] or 0) + 1
    it(("%s rejects bad input (%s)"):format(name, expected), function()
      local ok, err = pcall(fn)
      if ok then error(("%s: no error raised; expected one containing %q"):format(name, expected), 0) end
      err = tostring(err)
      if not err:find(expected, 1, true) then
        error(("%s: error %q does not contain %q"):format(name, err, expected), 0)
      end
    end)
  end
end

return bad_args
