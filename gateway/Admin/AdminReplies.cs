using CmpCluster.Contracts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CmpCluster.Gateway.Admin;

/// <summary>The admin grain's answers as HTTP: the grain decides, the gateway only translates.</summary>
internal static class AdminReplies
{
    /// <summary>Who asked, for the silo's audit trail: the API and the client address (never the token).</summary>
    public static string Actor(HttpContext http) => $"admin-api@{http.Connection.RemoteIpAddress}";

    public static IAdminGrain Admin(this IGrainFactory grains) => grains.GetGrain<IAdminGrain>(GrainKeys.Admin);

    /// <summary>Ok / Created become <paramref name="ok"/>'s result; the other statuses become problems.</summary>
    public static Results<TOk, ValidationProblem, ProblemHttpResult> Map<T, TOk>(AdminReply<T> reply, Func<T?, TOk> ok)
        where TOk : IResult => reply.Status switch
        {
            AdminStatus.Ok or AdminStatus.Created => ok(reply.Value),
            AdminStatus.Invalid => Invalid(reply.Errors ?? new Dictionary<string, string>()),
            _ => TypedResults.Problem(statusCode: reply.Status == AdminStatus.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict,
                title: reply.Title, detail: reply.Detail),
        };

    public static ValidationProblem Invalid(IReadOnlyDictionary<string, string> errors) =>
        TypedResults.ValidationProblem(errors.ToDictionary(e => e.Key, e => new[] { e.Value }));
}
