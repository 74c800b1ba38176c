using CmpCluster.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// POST /api/v1/end-entities/bulk: a roll-out registers thousands of devices in one call. The admin grain validates every
/// item first and registers the valid ones with a bounded number of grain calls in flight; an invalid item never stops
/// the others.
/// </summary>
internal static class BulkRegistration
{
    public static async Task<Results<Ok<BulkResponse>, ValidationProblem>> RegisterAsync(BulkRequest request, IGrainFactory grains, HttpContext http)
    {
        EndEntityInput?[] items = (request.EndEntities ?? []).Select(i => i is null ? null : EndEntityEndpoints.Input(i)).ToArray();
        BulkRegistrationReply reply = await grains.Admin().RegisterBulkAsync(items, request.Replace ?? false, AdminReplies.Actor(http));
        if (reply.RequestErrors is { } errors)
        {
            return AdminReplies.Invalid(errors);
        }
        return TypedResults.Ok(new BulkResponse(reply.Created, reply.Replaced, reply.Existing, reply.Invalid,
            reply.Errors.Select(e => new BulkItemError(e.Index, e.Username, e.Field, e.Message)).ToArray()));
    }
}
