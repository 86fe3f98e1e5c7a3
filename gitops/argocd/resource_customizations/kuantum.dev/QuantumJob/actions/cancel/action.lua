-- Cancels a kuantum.dev QuantumJob the way users do: spec.cancel = true (one of the fields that may change).
-- A final job is returned unchanged: its state never changes again.
local state = nil
if obj.status ~= nil then
  state = obj.status.state
end
if state == "Succeeded" or state == "Failed" or state == "Cancelled" then
  return obj
end
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.cancel = true
return obj
