namespace ExBuy.Api.Inventory;

/// <summary>POST /api/inventory/reserve body.</summary>
public sealed record ReserveRequest(long? ProductId, int? Quantity);

public sealed record ReserveResponse(long ProductId, int Quantity, int RemainingStock, string LockType);
