using System.Text;
using System.Text.RegularExpressions;
using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// <c>GET /api/v1/audit?cursor=&amp;limit=</c>: a page of the audit trail as JSON Lines (<c>application/jsonl</c>, one
/// record per line, grains/Audit/AuditJson.cs), with the cursor of the next page in <c>Audit-Next-Cursor</c> and
/// <c>Audit-More: true</c> while records were already waiting beyond this page. Follow the cursor until a page is
/// empty; the concatenated pages are what <c>silo audit verify --file</c> checks.
/// </summary>
internal static partial class AuditEndpoints
{
    public const string ContentType = "application/jsonl";
    public const string NextCursorHeader = "Audit-Next-Cursor";
    public const string MoreHeader = "Audit-More";
    public const int DefaultLimit = 100;

    public static void MapAuditEndpoints(this RouteGroupBuilder api) =>
        api.MapGet("/audit", ExportAsync).WithTags("Audit").WithName("ExportAudit")
            .Produces(StatusCodes.Status200OK, contentType: ContentType).ProducesValidationProblem();

    private static async Task<IResult> ExportAsync(string? cursor, int? limit, IGrainFactory grains, HttpContext http)
    {
        int pageSize = limit ?? DefaultLimit;
        if (pageSize is < 1 or > AuditExportPage.MaxLimit)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"must be 1 .. {AuditExportPage.MaxLimit}"] });
        }
        if (cursor is not null && !Cursor().IsMatch(cursor))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["cursor"] = ["must be a cursor from Audit-Next-Cursor"] });
        }
        AuditExportPage page;
        try
        {
            page = await grains.GetGrain<IAuditExportGrain>(GrainKeys.Admin).ReadAsync(cursor, pageSize);
        }
        catch (ArgumentException)
        {
            // Well-formed, but not a cursor of this cluster's store (a SQLite position given to Redis, or the reverse).
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["cursor"] = ["is not a cursor of this cluster's audit store"] });
        }
        http.Response.Headers[NextCursorHeader] = page.NextCursor;
        http.Response.Headers[MoreHeader] = page.More ? "true" : "false";
        var body = new StringBuilder();
        foreach (string line in page.Lines)
        {
            body.Append(line).Append('\n');
        }
        return Results.Text(body.ToString(), ContentType, Encoding.UTF8);
    }

    [GeneratedRegex("^[0-9]{1,20}(-[0-9]{1,20})?$")]
    private static partial Regex Cursor();
}
