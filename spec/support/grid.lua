--- spec/support/grid.lua: every combination of a sweep's configuration axes, in the order of
-- nested loops (the first axis varies slowest), for the specs that check a formula on a grid.
--   grid.each({{"bias", {false, true}}, {"depth", {1, 2, 3}}}, function(c) ... end)
-- calls fn(c) once per combination, with c.bias, c.depth the values and c.at.bias, c.at.depth
-- their positions in the lists. fn gets the same table each time: copy what it keeps.
local grid = {}

function grid.each(axes, fn)
  local c = {at = {}}
  local function level(k)
    if k > #axes then return fn(c) end
    local name, values = axes[k][1], axes[k][2]
    for i, v in ipairs(values) do
      c[name], c.at[name] = v, i
      level(k + 1)
    end
  end
  level(1)
end

return grid
