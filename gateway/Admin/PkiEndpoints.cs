using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CmpCluster.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace CmpCluster.Gateway.Admin;

/// <summary>Read-only PKI views: the CAs with their certificates, and one issued certificate by (CA, serial).</summary>
internal static class PkiEndpoints
{
    public const string PemContentType = "application/x-pem-file";
    public const string DerContentType = "application/pkix-cert";

    public static void MapPkiEndpoints(this RouteGroupBuilder api)
    {
        RouteGroupBuilder cas = api.MapGroup("/cas").WithTags("Certificate authorities");
        cas.MapGet("/", ListAsync).WithName("ListCas");
        // A new CA is served by every silo without a restart (grains/Pki/RecordedCas.cs); the gateway passes the request on.
        cas.MapPost("/", (CaCreateRequest body, IGrainFactory grains, HttpContext http) => CreatedAsync(grains.Admin().CreateCaAsync(
                new CaCreateInput(body.Name, body.KeyAlgorithm, body.RootSubject, body.IssuingSubject, body.CmpSignerSubject, body.OcspSignerSubject, body.IssuedBy),
                AdminReplies.Actor(http))))
            .WithName("CreateCa").Produces<CaResponse>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(409);
        cas.MapPost("/import", (CaImportRequest body, IGrainFactory grains, HttpContext http) => CreatedAsync(grains.Admin().ImportCaAsync(
                new CaImportInput(body.Name, body.CertificateChain, body.KeyPem, body.KeyFile, body.KeyPassphrase, body.Pkcs11Token, body.Pkcs11KeyLabel,
                    body.CmpSignerSubject, body.OcspSignerSubject),
                AdminReplies.Actor(http))))
            .WithName("ImportCa").Produces<CaResponse>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(409);
        cas.MapGet("/{name}/certificate.pem", (string name, IGrainFactory grains) =>
                FileAsync(grains, name, ca => Pem([ca.CertificateDer]), PemContentType, "pem"))
            .WithName("GetCaCertificatePem").Produces(200, contentType: PemContentType).ProducesProblem(404);
        cas.MapGet("/{name}/certificate.der", (string name, IGrainFactory grains) =>
                FileAsync(grains, name, ca => ca.CertificateDer, DerContentType, "der"))
            .WithName("GetCaCertificateDer").Produces(200, contentType: DerContentType).ProducesProblem(404);
        cas.MapGet("/{name}/chain.pem", (string name, IGrainFactory grains) =>
                FileAsync(grains, name, ca => Pem(ca.ChainDer.Count > 0 ? ca.ChainDer : [ca.CertificateDer]), PemContentType, "chain.pem"))
            .WithName("GetCaChainPem").Produces(200, contentType: PemContentType).ProducesProblem(404);

        // A disabled CA issues no new certificates; its CRLs, OCSP answers and revocations go on (grains/Internal/ICaStatusGrain.cs).
        cas.MapPost("/{name}/disable", (string name, IGrainFactory grains, HttpContext http) => SetEnabledAsync(grains, name, false, http))
            .WithName("DisableCa").ProducesProblem(404);
        cas.MapPost("/{name}/enable", (string name, IGrainFactory grains, HttpContext http) => SetEnabledAsync(grains, name, true, http))
            .WithName("EnableCa").ProducesProblem(404);

        api.MapGet("/certificates/{ca}/{serialHex}", GetCertificateAsync).WithTags("Certificates").WithName("GetCertificate")
            .ProducesProblem(404);
    }

    private static async Task<Ok<CaResponse[]>> ListAsync(IGrainFactory grains)
    {
        IReadOnlyList<CaInfo> cas = await grains.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync();
        return TypedResults.Ok(cas.Select(View).ToArray());
    }

    private static async Task<Results<Ok<CaResponse>, ValidationProblem, ProblemHttpResult>> SetEnabledAsync(
        IGrainFactory grains, string name, bool enabled, HttpContext http) =>
        AdminReplies.Map(await grains.Admin().SetCaEnabledAsync(name, enabled, AdminReplies.Actor(http)), ca => TypedResults.Ok(View(ca!)));

    private static async Task<Results<Created<CaResponse>, ValidationProblem, ProblemHttpResult>> CreatedAsync(Task<AdminReply<CaInfo>> reply) =>
        AdminReplies.Map(await reply, ca => TypedResults.Created($"{AdminApi.Prefix}/cas/{Uri.EscapeDataString(ca!.Name)}", View(ca)));

    private static CaResponse View(CaInfo ca)
    {
        string self = $"{AdminApi.Prefix}/cas/{Uri.EscapeDataString(ca.Name)}";
        return new CaResponse(ca.Name, SubjectDn(ca.CertificateDer) ?? ca.SubjectDn, ca.NotAfter, ca.Enabled,
            new CaLinks($"{self}/certificate.pem", $"{self}/certificate.der", $"{self}/chain.pem"), ca.Origin,
            ca.RetiredKeys is { Count: > 0 } retired
                ? [.. retired.Select(r => new RetiredKeyResponse(r.Generation, KeyIdentifier(r.CertificateDer), r.NotAfter,
                    $"/crl/{Uri.EscapeDataString(CrlNames.Of(ca.Name, r.Generation))}.crl"))]
                : null);
    }

    /// <summary>The certificate's subjectKeyIdentifier in hex (RFC 5280 §4.2.1.2), empty without one.</summary>
    private static string KeyIdentifier(byte[] certificateDer)
    {
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(certificateDer);
        return certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()?.SubjectKeyIdentifier ?? "";
    }

    private static async Task<IResult> FileAsync(IGrainFactory grains, string name, Func<CaInfo, byte[]> content, string contentType, string extension)
    {
        IReadOnlyList<CaInfo> cas = await grains.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync();
        CaInfo? ca = cas.FirstOrDefault(c => c.Name == name);
        return ca is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "CA not found", detail: $"No CA '{name}' in this cluster.")
            : TypedResults.File(content(ca), contentType, $"{ca.Name}.{extension}");
    }

    private static async Task<Results<Ok<CertificateResponse>, ValidationProblem, ProblemHttpResult>> GetCertificateAsync(
        string ca, string serialHex, IGrainFactory grains) =>
        AdminReplies.Map(await grains.Admin().GetCertificateAsync(ca, serialHex), record => View(record!));

    private static Ok<CertificateResponse> View(CertificateRecord record)
    {
        CertificateIntent intent = record.Intent;
        string subjectDn = (record.Der is null ? null : SubjectDn(record.Der)) ?? intent.SubjectDn;
        return TypedResults.Ok(new CertificateResponse(intent.Ca, intent.SerialHex, subjectDn, intent.Owner, record.Status,
            record.RevocationReason, record.RevokedAt, record.Der is null ? null : Encoding.ASCII.GetString(Pem([record.Der]))));
    }

    /// <summary>
    /// The subject as the API shows every DN (RFC 4514 order, most specific first, as end entities are registered), read
    /// from the certificate itself so CA and certificate views agree whatever the grains' string form is.
    /// </summary>
    private static string? SubjectDn(byte[] certificateDer)
    {
        try
        {
            using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(certificateDer);
            return certificate.SubjectName.Name;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>RFC 7468 §5 textual encoding, certificates concatenated in order.</summary>
    private static byte[] Pem(IEnumerable<byte[]> certificates)
    {
        var text = new StringBuilder();
        foreach (byte[] der in certificates)
        {
            text.Append(PemEncoding.Write("CERTIFICATE", der)).Append('\n');
        }
        return Encoding.ASCII.GetBytes(text.ToString());
    }
}
