-- LDoc filter (scripts/api-docs): prints every documented item as "<module> <name>", one a line,
-- e.g. "ntklab zeros", "ntklab tensor:get", "ntklab.io read_idx". Runs under LDoc's Lua (5.1+).
return {filter = function(modules)
  for _, m in ipairs(modules) do
    for item in m.items:iter() do
      io.write(m.name, " ", item.name, "\n")
    end
  end
end}
