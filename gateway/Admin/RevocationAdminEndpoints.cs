using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace CmpCluster.Gateway.Admin;

/// <summary>POST /api/v1/certificates/{ca}/{serial}/revoke.</summary>
public sealed record RevokeRequest(string? Reason, DateTimeOffset? InvalidityDate);

public sealed record CrlResponse(string Ca, long Number, DateTimeOffset ThisUpdate, DateTimeOffset NextUpdate, int RevokedCount, string Url);

/// <summary>Operator revocation (EJBCA's "revoke certificate") and on-demand CRL issuance.</summary>
internal static class RevocationAdminEndpoints
{
    public static void MapRevocationAdminEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/certificates/{ca}/{serialHex}/revoke", RevokeAsync).WithTags("Certificates").WithName("RevokeCertificate")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/cas/{name}/crl", IssueCrlAsync).WithTags("Certificate authorities").WithName("IssueCrl")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    /// <summary>The reason names and the hold policy (certificateHold only where the certificate's profile allows it) are the admin grain's rules.</summary>
    private static async Task<Results<Ok<CertificateResponse>, ValidationProblem, ProblemHttpResult>> RevokeAsync(
        string ca, string serialHex, RevokeRequest? request, IGrainFactory grains, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().RevokeCertificateAsync(ca, serialHex, request?.Reason, request?.InvalidityDate, AdminReplies.Actor(http)),
            record => TypedResults.Ok(new CertificateResponse(record!.Intent.Ca, record.Intent.SerialHex, record.Intent.SubjectDn, record.Intent.Owner,
                record.Status, record.RevocationReason, record.RevokedAt, null)));

    /// <summary>The CRL of the CA's current key; the URL names its generation (<see cref="CrlNames"/>).</summary>
    private static async Task<Results<Ok<CrlResponse>, ValidationProblem, ProblemHttpResult>> IssueCrlAsync(string name, IGrainFactory grains, HttpContext http)
    {
        AdminReply<CrlInfo> reply = await grains.Admin().IssueCrlAsync(name, AdminReplies.Actor(http));
        int generation = (await grains.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync()).FirstOrDefault(c => c.Name == name)?.KeyGeneration ?? 0;
        return AdminReplies.Map(reply, crl => TypedResults.Ok(new CrlResponse(name, crl!.Number, crl.ThisUpdate, crl.NextUpdate, crl.RevokedCount,
            $"/crl/{Uri.EscapeDataString(CrlNames.Of(name, generation))}.crl")));
    }
}
