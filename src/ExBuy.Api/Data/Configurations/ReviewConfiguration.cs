using ExBuy.Api.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace ExBuy.Api.Data.Configurations;

internal sealed class ReviewConfiguration : IEntityTypeConfiguration<Review>
{
    public const int BodyMaxLength = 2000;

    public void Configure(EntityTypeBuilder<Review> b)
    {
        b.ToTable("reviews", t => t.HasCheckConstraint("ck_reviews_rating_range", "rating BETWEEN 1 AND 5"));
        b.Property(r => r.Body).HasMaxLength(BodyMaxLength);
        // Newest first (created_at DESC, id DESC) overall and under each filter of GET /api/reviews and
        // GET /api/products/{id}/reviews; the product index also serves review_count/avg_rating.
        b.HasIndex(r => new { r.ProductId, r.CreatedAt, r.Id }, "ix_reviews_product_id_created_at_id");
        b.HasIndex(r => new { r.UserId, r.CreatedAt, r.Id }, "ix_reviews_user_id_created_at_id");
        b.HasIndex(r => new { r.Rating, r.CreatedAt, r.Id }, "ix_reviews_rating_created_at_id");
        b.HasIndex(r => new { r.CreatedAt, r.Id }, "ix_reviews_created_at_id");
        b.HasOne(r => r.Product).WithMany(p => p.Reviews).HasForeignKey(r => r.ProductId)
            .OnDelete(DeleteBehavior.Cascade);
    }
}
