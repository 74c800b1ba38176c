using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CmpCluster.Grains.Pki;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// What a silo adds to every grain call it makes, so a silo-internal interface can tell a call from a silo apart from one
/// that only claims to come from a grain. Orleans' gateway forwards a client's message with the sending grain id the client
/// wrote into it: a process holding a gateway's cluster certificate (a compromised gateway) could name a grain as sender.
/// It cannot present this token: it is derived from the CA private key, which silos hold and gateways never do
/// (<see cref="KeyHolder.DeriveSecret"/>), and it travels only on silo-to-silo calls.
/// </summary>
/// <remarks>
/// Carried in the call's RequestContext under <see cref="Key"/>, set by <see cref="SiloCallMarker"/> inside the outgoing
/// call only (an async filter's change to the ambient context does not flow back to the grain), so a grain's answer to a
/// gateway never carries it. A CA key on a PKCS#11 token cannot be read: the token derives the secret with its silo secret
/// key instead (<see cref="Pkcs11Key.DeriveSecret"/>); a token that is away then fails the derivation, which is tried
/// again at the next call rather than remembered.
/// </remarks>
public sealed class SiloCallToken
{
    public const string Key = "cmp.silo";
    private const string Label = "CmpCluster silo-internal grain call v1";

    private readonly Lazy<string> _value;

    public SiloCallToken(PkiKeyRing keys)
    {
        _value = new Lazy<string>(() =>
        {
            // Every silo has the same configured CAs; the first by name gives every silo the same token (a CA added through the
            // admin API never changes it, nor does a renewal with a new key: its first key stays on file).
            CertificateAuthorityKeys ca = keys.Configured.OrderBy(a => a.Name, StringComparer.Ordinal).First();
            return Convert.ToBase64String(ca.FirstKey.DeriveSecret(Label));
        }, LazyThreadSafetyMode.PublicationOnly);
    }

    public string Value => _value.Value;

    /// <summary>Whether the current call (its RequestContext) carries this silo cluster's token. Compared in constant time,
    /// without allocating: it runs on every call to an internal interface.</summary>
    public bool Carried() => RequestContext.Get(Key) is string presented
        && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(presented.AsSpan()), MemoryMarshal.AsBytes(Value.AsSpan()));
}

/// <summary>
/// Marks the calls a silo makes to silo-internal interfaces with the <see cref="SiloCallToken"/> (registered on silos
/// only). The token is set inside this async method, so the change stays with this one outgoing call: the caller's own
/// RequestContext, and with it any answer the caller gives a gateway, never holds it.
/// </summary>
public sealed class SiloCallMarker(SiloCallToken token) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType?.Assembly == InternalCallFilter.InternalContracts)
        {
            RequestContext.Set(SiloCallToken.Key, token.Value);
        }
        await context.Invoke();
    }
}
