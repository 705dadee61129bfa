using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ExBuy.Api.Data.Configurations;

internal sealed class OrderConfiguration : IEntityTypeConfiguration<Order>
{
    public void Configure(EntityTypeBuilder<Order> b)
    {
        b.ToTable("orders", t =>
        {
            t.HasCheckConstraint("ck_orders_status",
                "status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')");
            t.HasCheckConstraint("ck_orders_total_price_non_negative", "total_price >= 0");
        });
        b.Property(o => o.Status).HasMaxLength(16);
        b.HasIndex(o => new { o.UserId, o.Id }, "ix_orders_user_id_id");
        b.HasIndex(o => o.Status, "ix_orders_status");
        b.HasMany(o => o.Items).WithOne(i => i.Order).HasForeignKey(i => i.OrderId).OnDelete(DeleteBehavior.Cascade);
    }
}
