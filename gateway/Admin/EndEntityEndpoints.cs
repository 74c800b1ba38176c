using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace CmpCluster.Gateway.Admin;

/// <summary>End entities (EJBCA's "add / edit / delete end entity", "reset status"): one admin-grain call each.</summary>
internal static class EndEntityEndpoints
{
    public static void MapEndEntityEndpoints(this RouteGroupBuilder api)
    {
        RouteGroupBuilder group = api.MapGroup("/end-entities").WithTags("End entities");
        group.MapPost("/", CreateAsync).WithName("CreateEndEntity").ProducesProblem(StatusCodes.Status409Conflict);
        group.MapPost("/bulk", BulkRegistration.RegisterAsync).WithName("BulkRegisterEndEntities");
        group.MapGet("/{username}", GetAsync).WithName("GetEndEntity").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPut("/{username}", UpdateAsync).WithName("UpdateEndEntity").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{username}", DeleteAsync).WithName("DeleteEndEntity").ProducesProblem(StatusCodes.Status404NotFound);
        group.MapPost("/{username}/reset", ResetAsync).WithName("ResetEndEntity").ProducesProblem(StatusCodes.Status404NotFound);
    }

    public static string Location(string username) => $"{AdminApi.Prefix}/end-entities/{Uri.EscapeDataString(username)}";

    public static EndEntityInput Input(EndEntityRequest request) => new(request.Username, request.SubjectDn, request.SubjectAltNames,
        request.Ca, request.CertificateProfile, request.EndEntityProfile, request.EnrollmentCode);

    private static async Task<Results<Created<EndEntityResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        EndEntityRequest request, IGrainFactory grains, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().RegisterEndEntityAsync(Input(request), replace: false, AdminReplies.Actor(http)),
            view => TypedResults.Created(Location(view!.Username), EndEntityResponse.From(view)));

    private static async Task<Results<Ok<EndEntityResponse>, ValidationProblem, ProblemHttpResult>> GetAsync(string username, IGrainFactory grains) =>
        AdminReplies.Map(await grains.Admin().GetEndEntityAsync(username), view => TypedResults.Ok(EndEntityResponse.From(view!)));

    private static async Task<Results<Ok<EndEntityResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string username, EndEntityUpdateRequest request, IGrainFactory grains, HttpContext http)
    {
        var input = new EndEntityInput(username, request.SubjectDn, request.SubjectAltNames, request.Ca, request.CertificateProfile,
            request.EndEntityProfile, request.EnrollmentCode);
        return AdminReplies.Map(await grains.Admin().UpdateEndEntityAsync(input, AdminReplies.Actor(http)),
            view => TypedResults.Ok(EndEntityResponse.From(view!)));
    }

    private static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> DeleteAsync(string username, IGrainFactory grains, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().DeleteEndEntityAsync(username, AdminReplies.Actor(http)), _ => TypedResults.NoContent());

    private static async Task<Results<Ok<EndEntityResponse>, ValidationProblem, ProblemHttpResult>> ResetAsync(
        string username, ResetRequest request, IGrainFactory grains, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().ResetEndEntityAsync(username, request.EnrollmentCode, AdminReplies.Actor(http)),
            view => TypedResults.Ok(EndEntityResponse.From(view!)));
}
