using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Admin;

/// <summary>End entities (EJBCA's "add / edit / delete end entity", "reset status"), one grain call each.</summary>
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

    private static async Task<Results<Created<EndEntityResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        EndEntityRequest request, IGrainFactory grains, IOptionsMonitor<CmpOptions> cmp, ILoggerFactory loggers)
    {
        AdminCatalog catalog = await AdminCatalog.LoadAsync(grains, cmp.CurrentValue);
        var errors = new Dictionary<string, string>();
        EndEntityRegistration? registration = AdminValidation.Validate(request.Username, requireUsername: true, request.SubjectDn,
            request.SubjectAltNames, request.Ca, request.CertificateProfile, request.EndEntityProfile, request.EnrollmentCode,
            requireCode: true, catalog, errors);
        if (registration is null)
        {
            return Invalid(errors);
        }
        string username = request.Username!;
        EndEntityView? view = await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).RegisterAsync(registration, replace: false);
        if (view is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "End entity exists",
                detail: $"The end entity '{username}' is already registered; use PUT to change it.");
        }
        AdminLog.EndEntityChanged(loggers.CreateLogger(AdminLog.Category), "registered", username);
        return TypedResults.Created(Location(username), EndEntityResponse.From(view));
    }

    private static async Task<Results<Ok<EndEntityResponse>, ProblemHttpResult, ValidationProblem>> GetAsync(
        string username, IGrainFactory grains)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return InvalidUsername();
        }
        EndEntityView? view = await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetAsync();
        return view is null ? NotFound(username) : TypedResults.Ok(EndEntityResponse.From(view));
    }

    private static async Task<Results<Ok<EndEntityResponse>, ProblemHttpResult, ValidationProblem>> UpdateAsync(
        string username, EndEntityUpdateRequest request, IGrainFactory grains, IOptionsMonitor<CmpOptions> cmp, ILoggerFactory loggers)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return InvalidUsername();
        }
        AdminCatalog catalog = await AdminCatalog.LoadAsync(grains, cmp.CurrentValue);
        var errors = new Dictionary<string, string>();
        EndEntityRegistration? registration = AdminValidation.Validate(username, requireUsername: false, request.SubjectDn,
            request.SubjectAltNames, request.Ca, request.CertificateProfile, request.EndEntityProfile, request.EnrollmentCode,
            requireCode: false, catalog, errors);
        if (registration is null)
        {
            return Invalid(errors);
        }
        EndEntityView? view = await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).UpdateAsync(registration);
        if (view is null)
        {
            return NotFound(username);
        }
        AdminLog.EndEntityChanged(loggers.CreateLogger(AdminLog.Category), "updated", username);
        return TypedResults.Ok(EndEntityResponse.From(view));
    }

    private static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> DeleteAsync(
        string username, IGrainFactory grains, ILoggerFactory loggers)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return InvalidUsername();
        }
        if (!await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).DeleteAsync())
        {
            return NotFound(username);
        }
        AdminLog.EndEntityChanged(loggers.CreateLogger(AdminLog.Category), "deleted", username);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<EndEntityResponse>, ProblemHttpResult, ValidationProblem>> ResetAsync(
        string username, ResetRequest request, IGrainFactory grains, ILoggerFactory loggers)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return InvalidUsername();
        }
        if (!AdminValidation.IsValidCode(request.EnrollmentCode))
        {
            return Invalid(new Dictionary<string, string> { ["enrollmentCode"] = "must be 8-256 characters" });
        }
        EndEntityView? view = await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).ResetAsync(request.EnrollmentCode!);
        if (view is null)
        {
            return NotFound(username);
        }
        AdminLog.EndEntityChanged(loggers.CreateLogger(AdminLog.Category), "reset", username);
        return TypedResults.Ok(EndEntityResponse.From(view));
    }

    internal static ValidationProblem Invalid(Dictionary<string, string> errors) =>
        TypedResults.ValidationProblem(errors.ToDictionary(e => e.Key, e => new[] { e.Value }));

    private static ValidationProblem InvalidUsername() =>
        Invalid(new Dictionary<string, string> { ["username"] = "must be 1-128 characters of A-Z a-z 0-9 . _ @ -" });

    private static ProblemHttpResult NotFound(string username) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "End entity not found",
            detail: $"No end entity '{username}' is registered.");
}
