using System.Text.RegularExpressions;
using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// Requests waiting for approval (profile RequireApproval, RFC 9483 §4.4 delayed delivery): list them, approve or reject.
/// The client learns the decision at its next pollReq.
/// </summary>
internal static partial class ApprovalEndpoints
{
    public static void MapApprovalEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/approvals", ListAsync).WithTags("Approvals").WithName("ListApprovals");
        api.MapPost("/approvals/{alias}/{transactionId}/approve", (string alias, string transactionId, IGrainFactory grains, ILoggerFactory loggers, HttpContext http) =>
            DecideAsync(alias, transactionId, approve: true, grains, loggers, http)).WithTags("Approvals").WithName("ApproveRequest")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/approvals/{alias}/{transactionId}/reject", (string alias, string transactionId, IGrainFactory grains, ILoggerFactory loggers, HttpContext http) =>
            DecideAsync(alias, transactionId, approve: false, grains, loggers, http)).WithTags("Approvals").WithName("RejectRequest")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Ok<IReadOnlyList<PendingApproval>>> ListAsync(IGrainFactory grains) =>
        TypedResults.Ok(await grains.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync());

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DecideAsync(
        string alias, string transactionId, bool approve, IGrainFactory grains, ILoggerFactory loggers, HttpContext http)
    {
        // The transactionID as the list shows it: 32..128 hex digits (RFC 9483 §3.1: at least 128 bits).
        if (!TransactionIdHex().IsMatch(transactionId))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["transactionId"] = ["must be 32-128 hexadecimal digits"] });
        }
        ICmpTransactionGrain transaction = grains.GetGrain<ICmpTransactionGrain>(GrainKeys.Transaction(alias, Convert.FromHexString(transactionId)));
        string approver = http.User.Identity?.Name ?? "admin API";
        if (!await transaction.DecideApprovalAsync(approve, approver))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No request waits for approval",
                detail: $"Transaction {transactionId} of alias '{alias}' is not waiting for approval.");
        }
        AdminLog.ApprovalDecided(loggers.CreateLogger(AdminLog.Category), alias, transactionId, approve ? "approved" : "rejected");
        return TypedResults.NoContent();
    }

    [GeneratedRegex("^([0-9A-Fa-f]{2}){16,64}$")]
    private static partial Regex TransactionIdHex();
}
