using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ExBuy.Api.Data.Configurations;

internal sealed class OrderItemConfiguration : IEntityTypeConfiguration<OrderItem>
{
    public void Configure(EntityTypeBuilder<OrderItem> b)
    {
        b.ToTable("order_items", t => t.HasCheckConstraint("ck_order_items_quantity_positive", "quantity > 0"));
        // A product appears once per order (contract: Orders); the unique index also serves order → items.
        b.HasIndex(i => new { i.OrderId, i.ProductId }, "ux_order_items_order_id_product_id").IsUnique();
        // Stats aggregate by product and the FK from products: product_id first, covering the summed columns.
        b.HasIndex(i => new { i.ProductId, i.OrderId, i.Quantity, i.UnitPrice }, "ix_order_items_product_id");
        b.HasOne(i => i.Product).WithMany(p => p.OrderItems).HasForeignKey(i => i.ProductId)
            .OnDelete(DeleteBehavior.Restrict);
    }
}
