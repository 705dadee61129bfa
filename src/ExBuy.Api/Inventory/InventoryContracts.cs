using ExBuy.Api.Common;

namespace ExBuy.Api.Inventory;

/// <summary>POST /api/inventory/reserve body.</summary>
public sealed record ReserveRequest(long? ProductId, int? Quantity)
{
    public const int MaxQuantity = 1000;

    public void Validate(ValidationErrors errors)
    {
        switch (ProductId)
        {
            case null:
                errors.Add("product_id", Messages.Required);
                break;
            case < 1:
                errors.Add("product_id", Messages.AtLeast(1));
                break;
        }
        switch (Quantity)
        {
            case null:
                errors.Add("quantity", Messages.Required);
                break;
            case < 1 or > MaxQuantity:
                errors.Add("quantity", Messages.Between(1, MaxQuantity));
                break;
        }
    }
}

public sealed record ReserveResponse(long ProductId, int Quantity, int RemainingStock, string LockType);
