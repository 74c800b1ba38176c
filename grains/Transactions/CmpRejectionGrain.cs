using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Validation;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Transactions;

/// <summary>
/// Answers messages that have no usable transactionID, so no transaction grain can own them. Stateless: it only
/// renders a signed error (the gateway holds no keys), echoing what it can of the request header.
/// </summary>
[StatelessWorker]
public sealed class CmpRejectionGrain(IOptionsMonitor<CmpOptions> options, PkiKeyRing keys, ResponseProtectors protectors, TimeProvider time)
    : Grain, ICmpRejectionGrain
{
    public async Task<byte[]> RejectAsync(CmpRequest request)
    {
        CmpOptions settings = options.CurrentValue;
        CmpAliasOptions alias = settings.Aliases.GetValueOrDefault(request.Alias)
            ?? throw new ArgumentException($"unknown alias '{request.Alias}'");
        CertificateAuthorityKeys ca = keys.FindAuthority(alias.Ca) ?? keys.Default; // KeyID aliases name no CA
        CmpFailure failure = new(PkiFailureInfo.BadRequest, "transactionID is missing");
        ResponseContext context = ResponseContext.Undecoded([]);
        try
        {
            CmpLimits limits = settings.Limits.For(alias);
            DecodedRequest decoded = DecodedRequest.Decode(request.Der, limits);
            context = ResponseContext.For(decoded);
            // The first header rule that fails says best why the message could not be routed.
            HeaderValidator.Validate(decoded, limits, time.GetUtcNow());
        }
        catch (CmpFailureException e)
        {
            failure = e.Failure;
        }
        BuiltResponse response = await CmpResponseBuilder.BuildAsync(
            context, CmpResponseBuilder.Error(failure), protectors.Signature(ca), time.GetUtcNow());
        return response.Der;
    }
}
