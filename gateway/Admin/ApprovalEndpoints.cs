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
internal static class ApprovalEndpoints
{
    public static void MapApprovalEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/approvals", ListAsync).WithTags("Approvals").WithName("ListApprovals");
        api.MapPost("/approvals/{alias}/{transactionId}/approve", (string alias, string transactionId, IGrainFactory grains, HttpContext http) =>
            DecideAsync(alias, transactionId, approve: true, grains, http)).WithTags("Approvals").WithName("ApproveRequest")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/approvals/{alias}/{transactionId}/reject", (string alias, string transactionId, IGrainFactory grains, HttpContext http) =>
            DecideAsync(alias, transactionId, approve: false, grains, http)).WithTags("Approvals").WithName("RejectRequest")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Ok<IReadOnlyList<PendingApproval>>> ListAsync(IGrainFactory grains) =>
        TypedResults.Ok(await grains.Admin().ListApprovalsAsync());

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DecideAsync(
        string alias, string transactionId, bool approve, IGrainFactory grains, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().DecideApprovalAsync(alias, transactionId, approve, AdminReplies.Actor(http)), _ => TypedResults.NoContent());
}
