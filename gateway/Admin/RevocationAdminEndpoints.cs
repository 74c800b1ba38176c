using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Gateway.Admin;

/// <summary>POST /api/v1/certificates/{ca}/{serial}/revoke.</summary>
public sealed record RevokeRequest(string? Reason, DateTimeOffset? InvalidityDate);

public sealed record CrlResponse(string Ca, long Number, DateTimeOffset ThisUpdate, DateTimeOffset NextUpdate, int RevokedCount, string Url);

/// <summary>Operator revocation (EJBCA's "revoke certificate") and on-demand CRL issuance.</summary>
internal static class RevocationAdminEndpoints
{
    /// <summary>
    /// RFC 5280 §5.3.1 reason names. certificateHold and removeFromCRL are refused here for now: whether a hold is allowed
    /// is a profile decision the gateway cannot see.
    /// </summary>
    private static readonly Dictionary<string, RevocationReason> Reasons = new(StringComparer.OrdinalIgnoreCase)
    {
        ["unspecified"] = RevocationReason.Unspecified,
        ["keyCompromise"] = RevocationReason.KeyCompromise,
        ["cACompromise"] = RevocationReason.CaCompromise,
        ["affiliationChanged"] = RevocationReason.AffiliationChanged,
        ["superseded"] = RevocationReason.Superseded,
        ["cessationOfOperation"] = RevocationReason.CessationOfOperation,
        ["privilegeWithdrawn"] = RevocationReason.PrivilegeWithdrawn,
        ["aACompromise"] = RevocationReason.AaCompromise,
    };

    public static void MapRevocationAdminEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/certificates/{ca}/{serialHex}/revoke", RevokeAsync).WithTags("Certificates").WithName("RevokeCertificate")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        api.MapPost("/cas/{name}/crl", IssueCrlAsync).WithTags("Certificate authorities").WithName("IssueCrl")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<Results<Ok<CertificateResponse>, ValidationProblem, ProblemHttpResult>> RevokeAsync(
        string ca, string serialHex, RevokeRequest? request, IGrainFactory grains, ILoggerFactory loggers)
    {
        string? serial = AdminValidation.NormalizeSerial(serialHex);
        if (serial is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["serialHex"] = ["must be 1-64 hexadecimal digits"] });
        }
        string reasonName = request?.Reason ?? "unspecified";
        if (!Reasons.TryGetValue(reasonName, out RevocationReason reason))
        {
            string problem = reasonName.Equals("certificateHold", StringComparison.OrdinalIgnoreCase) || reasonName.Equals("removeFromCRL", StringComparison.OrdinalIgnoreCase)
                ? "certificateHold and removeFromCRL are not available through the admin API"
                : "must be an RFC 5280 reason: " + string.Join(", ", Reasons.Keys);
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = [problem] });
        }
        ICertificateGrain certificate = grains.GetGrain<ICertificateGrain>(GrainKeys.Certificate(ca, serial));
        RevocationResult result = await certificate.RevokeAsync(new RevocationRequest(reason, "admin API", request?.InvalidityDate));
        switch (result)
        {
            case RevocationResult.NotIssued:
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Certificate not found",
                    detail: $"No issued certificate with serial {serialHex} from CA '{ca}'.");
            case RevocationResult.AlreadyRevoked:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already revoked",
                    detail: $"The certificate {serialHex} of CA '{ca}' was revoked before.");
        }
        AdminLog.CertificateRevoked(loggers.CreateLogger(AdminLog.Category), ca, serial, reason.ToString());
        CertificateRecord record = (await certificate.GetAsync())!;
        return TypedResults.Ok(new CertificateResponse(record.Intent.Ca, record.Intent.SerialHex, record.Intent.SubjectDn, record.Intent.Owner,
            record.Status, record.RevocationReason, record.RevokedAt, null));
    }

    private static async Task<Results<Ok<CrlResponse>, ProblemHttpResult>> IssueCrlAsync(string name, IGrainFactory grains, ILoggerFactory loggers)
    {
        IReadOnlyList<CaInfo> cas = await grains.GetGrain<ICaDirectoryGrain>(AdminCatalog.DirectoryKey).ListAsync();
        if (!cas.Any(c => c.Name == name))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "CA not found", detail: $"No CA '{name}' in this cluster.");
        }
        CrlInfo crl = await grains.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(name)).IssueCrlAsync();
        AdminLog.CrlIssued(loggers.CreateLogger(AdminLog.Category), name, crl.Number);
        return TypedResults.Ok(new CrlResponse(name, crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.RevokedCount,
            $"/crl/{Uri.EscapeDataString(name)}.crl"));
    }
}
