using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ExBuy.Api.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ReadPathIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
                name: "ix_products_id",
                table: "products");
        }
    }
}
