using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ExBuy.Api.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ReadPathIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reviews_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_product_id_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_rating_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_user_id_created_at_id",
                table: "reviews");

            migrationBuilder.CreateIndex(
                name: "ix_reviews_created_at_id",
                table: "reviews",
                columns: new[] { "created_at", "id" })
                .Annotation("Npgsql:IndexInclude", new[] { "product_id" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_product_id_created_at_id",
                table: "reviews",
                columns: new[] { "product_id", "created_at", "id" })
                .Annotation("Npgsql:IndexInclude", new[] { "rating" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_rating_created_at_id",
                table: "reviews",
                columns: new[] { "rating", "created_at", "id" })
                .Annotation("Npgsql:IndexInclude", new[] { "product_id" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_user_id_created_at_id",
                table: "reviews",
                columns: new[] { "user_id", "created_at", "id" })
                .Annotation("Npgsql:IndexInclude", new[] { "product_id" });

            migrationBuilder.CreateIndex(
                name: "ix_products_id",
                table: "products",
                column: "id",
                filter: "deleted_at IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_reviews_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_product_id_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_rating_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_reviews_user_id_created_at_id",
                table: "reviews");

            migrationBuilder.DropIndex(
                name: "ix_products_id",
                table: "products");

            migrationBuilder.CreateIndex(
                name: "ix_reviews_created_at_id",
                table: "reviews",
                columns: new[] { "created_at", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_product_id_created_at_id",
                table: "reviews",
                columns: new[] { "product_id", "created_at", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_rating_created_at_id",
                table: "reviews",
                columns: new[] { "rating", "created_at", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_reviews_user_id_created_at_id",
                table: "reviews",
                columns: new[] { "user_id", "created_at", "id" });
        }
    }
}
