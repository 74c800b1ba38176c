using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Gateway;

/// <summary>
/// Public revocation status: CRLs over HTTP (RFC 5280 §4.2.1.13 distribution points, media type from RFC 2585 §4.2)
/// and OCSP over HTTP (RFC 6960 Appendix A.1). No authentication: relying parties anywhere fetch these. The gateway
/// holds no key; the CA grain signs CRLs and the OCSP responder grain signs responses.
/// </summary>
public static partial class RevocationEndpoints
{
    public const string CrlContentType = "application/pkix-crl";
    public const string OcspRequestType = "application/ocsp-request";
    public const string OcspResponseType = "application/ocsp-response";

    /// <summary>An OCSP request for the at most few dozen CertIDs we accept is well under 4 KiB; 16 KiB leaves room.</summary>
    public const int MaxOcspRequestBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapRevocationEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/crl/{name}.crl", (HttpContext http, string name, IGrainFactory grains, ILoggerFactory loggers) =>
            CrlAsync(http, name, pem: false, grains, loggers)).ForDevices(DeviceTraffic.Revocation);
        endpoints.MapGet("/crl/{name}.pem", (HttpContext http, string name, IGrainFactory grains, ILoggerFactory loggers) =>
            CrlAsync(http, name, pem: true, grains, loggers)).ForDevices(DeviceTraffic.Revocation);
        endpoints.MapPost("/ocsp", OcspPostAsync).ForDevices(DeviceTraffic.Revocation);
        endpoints.MapGet("/ocsp/{**request}", OcspGetAsync).ForDevices(DeviceTraffic.Revocation);
        return endpoints;
    }

    /// <summary>
    /// <c>/crl/{ca}.crl</c>: the CRL of the CA's first key; <c>/crl/{ca}.k{n}.crl</c>: that of its key after the n-th renewal
    /// with a new key (<see cref="CrlNames"/>), each signed by its key, for the certificates it signed.
    /// </summary>
    private static async Task CrlAsync(HttpContext http, string name, bool pem, IGrainFactory grains, ILoggerFactory loggers)
    {
        CrlInfo? crl;
        try
        {
            IReadOnlyList<CaInfo> cas = await grains.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync();
            if (!CrlNames.TryParse(name, out string ca, out int generation) || cas.FirstOrDefault(c => c.Name == ca) is not { } info)
            {
                await CmpHttpEndpoints.FaultAsync(http, 404, "unknown CA");
                return;
            }
            // The current key's CRL through the call every version has, so a gateway upgraded before the silos serves it too.
            ICrlGrain grain = grains.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(ca));
            crl = generation == info.KeyGeneration ? await grain.GetCrlAsync() : await grain.GetCrlAsync(generation);
            if (crl is null)
            {
                await CmpHttpEndpoints.FaultAsync(http, 404, "no CRL for this CA key (a key not made yet, or whose certificate has ended)");
                return;
            }
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException)
        {
            LogClusterUnavailable(loggers.CreateLogger(Category), e, http.Request.Path.Value ?? "");
            await CmpHttpEndpoints.FaultAsync(http, 503, "CA temporarily unavailable");
            return;
        }
        byte[] body = pem ? Encoding.ASCII.GetBytes(new string(System.Security.Cryptography.PemEncoding.Write("X509 CRL", crl.Der)) + "\n") : crl.Der;
        http.Response.StatusCode = 200;
        http.Response.ContentType = pem ? "application/x-pem-file" : CrlContentType;
        // Caches may keep the CRL until a newer one can exist at the latest (RFC 5019 §6.2 advises the same for OCSP).
        http.Response.Headers.LastModified = crl.ThisUpdate.ToString("R");
        http.Response.Headers.Expires = crl.NextUpdate.ToString("R");
        http.Response.ContentLength = body.Length;
        await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }

    private static async Task OcspPostAsync(HttpContext http, IGrainFactory grains, ILoggerFactory loggers)
    {
        if (!IsMediaType(http.Request.ContentType, OcspRequestType))
        {
            await CmpHttpEndpoints.FaultAsync(http, 415, "content type must be application/ocsp-request");
            return;
        }
        if (http.Request.ContentLength > MaxOcspRequestBytes)
        {
            await CmpHttpEndpoints.FaultAsync(http, 413, "request too large");
            return;
        }
        byte[]? body = await CmpHttpEndpoints.ReadBoundedAsync(http.Request.Body, MaxOcspRequestBytes, http.RequestAborted);
        if (body is null)
        {
            await CmpHttpEndpoints.FaultAsync(http, 413, "request too large");
            return;
        }
        await RespondAsync(http, body, grains, loggers);
    }

    /// <summary>RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}.</summary>
    private static async Task OcspGetAsync(HttpContext http, string request, IGrainFactory grains, ILoggerFactory loggers)
    {
        if (request.Length > MaxOcspRequestBytes * 2)
        {
            await CmpHttpEndpoints.FaultAsync(http, 414, "request too large");
            return;
        }
        byte[] der;
        try
        {
            // The server decoded the path except %2F; decode what is left ('/', '+' and '=' may arrive escaped or not).
            der = Convert.FromBase64String(Uri.UnescapeDataString(request));
        }
        catch (FormatException)
        {
            await CmpHttpEndpoints.FaultAsync(http, 400, "not base64");
            return;
        }
        await RespondAsync(http, der, grains, loggers);
    }

    private static async Task RespondAsync(HttpContext http, byte[] requestDer, IGrainFactory grains, ILoggerFactory loggers)
    {
        byte[] response;
        try
        {
            response = await grains.GetGrain<IOcspResponderGrain>(GrainKeys.OcspResponder).RespondAsync(requestDer);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException)
        {
            LogClusterUnavailable(loggers.CreateLogger(Category), e, http.Request.Path.Value ?? "");
            await CmpHttpEndpoints.FaultAsync(http, 503, "OCSP responder temporarily unavailable");
            return;
        }
        // Every OCSP-level outcome (malformedRequest, unauthorized, …) is an OCSPResponse with HTTP 200 (RFC 6960 A.1).
        http.Response.StatusCode = 200;
        http.Response.ContentType = OcspResponseType;
        http.Response.ContentLength = response.Length;
        await http.Response.Body.WriteAsync(response, http.RequestAborted);
    }

    private static bool IsMediaType(string? contentType, string expected)
    {
        if (contentType is null)
        {
            return false;
        }
        int semicolon = contentType.IndexOf(';');
        return (semicolon < 0 ? contentType : contentType[..semicolon]).AsSpan().Trim().Equals(expected, StringComparison.OrdinalIgnoreCase);
    }

    private const string Category = "CmpCluster.Gateway";

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "revocation {Path}: cluster did not answer")]
    private static partial void LogClusterUnavailable(ILogger logger, Exception exception, string path);
}
