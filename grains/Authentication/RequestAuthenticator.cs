using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;

namespace CmpCluster.Grains.Authentication;

public enum ProtectionKind
{
    PasswordBasedMac = 0,
    Signature = 1,
}

/// <summary>Who sent a request and how it was protected. <see cref="Mac"/> is set for MAC protection.</summary>
public sealed record Authenticated(string Principal, ProtectionKind Kind, byte[]? SenderKid, PasswordBasedMac? Mac);

/// <summary>
/// Runs the alias's authentication modules in order; the first that succeeds wins (seed: "You can specify more
/// than one module"). A request no module accepts is <c>badMessageCheck</c> (seed error table).
/// </summary>
public static class RequestAuthenticator
{
    public const string Hmac = "HMAC";

    public static Authenticated Authenticate(DecodedRequest request, CmpAliasOptions alias, CmpLimits limits)
    {
        CmpFailure? last = null;
        foreach (string module in alias.Modules)
        {
            try
            {
                return module switch
                {
                    Hmac => AuthenticateHmac(request, alias, limits),
                    _ => throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, $"authentication module {module} is not available"),
                };
            }
            catch (CmpFailureException e)
            {
                last = e.Failure;
            }
        }
        throw new CmpFailureException(last ?? new CmpFailure(PkiFailureInfo.BadMessageCheck, "no authentication module is configured"));
    }

    /// <summary>
    /// RA mode HMAC (seed: "HMAC"): PasswordBasedMac with the alias secret, RFC 4211 §4.4. The senderKID names
    /// the RA (openssl <c>-ref</c>); when the alias pins one, it must match.
    /// </summary>
    private static Authenticated AuthenticateHmac(DecodedRequest request, CmpAliasOptions alias, CmpLimits limits)
    {
        if (!PasswordBasedMac.IsPasswordBasedMac(request.ProtectionAlg))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "HMAC authentication needs PasswordBasedMac protection");
        }
        if (string.IsNullOrEmpty(alias.Secret))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "no shared secret is configured for this alias");
        }
        string? kid = request.SenderKid is null ? null : Encoding.UTF8.GetString(request.SenderKid);
        if (alias.SenderKid is not null && !string.Equals(alias.SenderKid, kid, StringComparison.Ordinal))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "senderKID is not known");
        }
        PasswordBasedMac mac = PasswordBasedMac.Derive(request.ProtectionAlg!, Encoding.UTF8.GetBytes(alias.Secret), limits);
        if (!mac.Verify(request.ProtectedPart(), request.Message.Protection.GetOctets()))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "message authentication code does not verify");
        }
        return new Authenticated("ra:" + (kid ?? "(no senderKID)"), ProtectionKind.PasswordBasedMac, request.SenderKid, mac);
    }
}
