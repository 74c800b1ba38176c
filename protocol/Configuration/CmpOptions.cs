using System.ComponentModel.DataAnnotations;

namespace CmpCluster.Protocol.Configuration;

/// <summary>Root of the <c>Cmp</c> configuration section: limits, aliases and certificate profiles.</summary>
public sealed class CmpOptions
{
    public const string Section = "Cmp";

    public CmpLimits Limits { get; set; } = new();

    /// <summary>CMP aliases by name; the name is the last path segment of the CMP URL.</summary>
    public Dictionary<string, CmpAliasOptions> Aliases { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Period of the deadline sweeper (one durable reminder per cluster) that revokes unconfirmed certificates, rejects
    /// requests that waited past <see cref="MaxWaitTime"/> and deletes expired transactions where the store does not expire
    /// them itself: a deadline is acted on within one period, after a restart too. Orleans' minimum reminder period is
    /// lowered to match when this is below it.
    /// </summary>
    public TimeSpan ConfirmCheckPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a closed transaction is kept (from its close) so that a retransmission gets the stored answer and a replay
    /// is refused; then its state is deleted. Unset: twice the alias's messageTime window (a request is accepted while its
    /// messageTime is within the window either side of our clock, so a replay is refused by the window once the
    /// transaction is gone). Set lower than that, replays of aliases that require messageTime could be processed anew:
    /// refused at start.
    /// </summary>
    public TimeSpan? TransactionRetention { get; set; }

    /// <summary>
    /// Longest a request may wait (for an operator's approval or for signing capacity, RFC 9483 §4.4) before it is rejected
    /// and its approval entry removed. Default 7 days.
    /// </summary>
    public TimeSpan MaxWaitTime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// End-entity profiles by name (EJBCA's CMP documentation, "RA mode for CMP": the end-entity profile of RA-created end
    /// entities): which subject DN fields a request may carry and what values they take. An alias names its profile in
    /// <see cref="CmpAliasOptions.EndEntityProfile"/>; a name not configured here has no rules.
    /// </summary>
    public Dictionary<string, EndEntityProfileOptions> EndEntityProfiles { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Request-handler plug-ins by name (protocol/Policy/IEnrollmentPolicy.cs); an alias lists those it calls in <see cref="CmpAliasOptions.EnrollmentPolicies"/>.</summary>
    public Dictionary<string, EnrollmentPolicyOptions> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long one plug-in may take to decide; past it the request is answered systemUnavail.</summary>
    public TimeSpan PolicyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The retention of a closed transaction of <paramref name="alias"/> (<see cref="TransactionRetention"/>).</summary>
    public TimeSpan RetentionFor(CmpAliasOptions? alias) =>
        TransactionRetention ?? 2 * (alias?.MessageTimeWindow ?? Limits.MessageTimeWindow);

    /// <summary>
    /// Back-pressure (RFC 9483 §4.4): at most this many issuances run at once in one silo; a request beyond it is answered
    /// "waiting" and issued when the client polls, instead of failing during a mass-renewal storm. 0: no limit.
    /// </summary>
    public int MaxConcurrentIssuances { get; set; }

    /// <summary>checkAfter of a waiting answer or pollRep: how long a client should wait before it polls again.</summary>
    public TimeSpan PollCheckAfter { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Certificate profiles by name.</summary>
    public Dictionary<string, CertificateProfileOptions> Profiles { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Bounds checked before any crypto. Each default is what a real device needs, with room. The ranges of the settings are
/// their <see cref="RangeAttribute"/>s, checked at start (<see cref="OptionAnnotations"/>).
/// </summary>
public sealed class CmpLimits
{
    /// <summary>Largest request body accepted, in bytes; larger → HTTP 413 (TCP: error 4).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Deepest DER nesting accepted (a PKIMessage with a certificate is about 12 deep).</summary>
    [Range(8, 256)]
    public int MaxDerDepth { get; set; } = 48;

    /// <summary>Most certificates in extraCerts.</summary>
    [Range(0, 64)]
    public int MaxExtraCerts { get; set; } = 10;

    /// <summary>Most inner messages in one nested message (a batch, RFC 9483 §5.2.2.2).</summary>
    [Range(1, 100)]
    public int MaxNestedMessages { get; set; } = 10;

    /// <summary>Most InfoTypeAndValue entries in generalInfo.</summary>
    [Range(0, 64)]
    public int MaxGeneralInfo { get; set; } = 8;

    /// <summary>Highest PBM iterationCount accepted; above it the request is refused without hashing.</summary>
    [Range(1, 10_000_000)]
    public int MaxPbmIterations { get; set; } = 100_000;

    /// <summary>Shortest PBM salt accepted, in bytes.</summary>
    [Range(8, 64)]
    public int MinPbmSaltBytes { get; set; } = 8;

    /// <summary>
    /// Lowest PBM iterationCount accepted (RFC 9481 §6.1.1: the count makes a guessed secret expensive to test; OpenSSL
    /// sends 500). Checked, with every other parameter, before any hashing.
    /// </summary>
    [Range(1, 10_000_000)]
    public int MinPbmIterations { get; set; } = 100;

    /// <summary>PBM one-way functions accepted (RFC 9481 §2): SHA256, SHA384, SHA512 by default; SHA1 only if listed.</summary>
    public string[]? AllowedPbmOneWayFunctions { get; set; }

    /// <summary>PBM MAC algorithms accepted (RFC 9481 §6.1.1, §6.2): HMAC-SHA1 (OpenSSL 3.0's default), HMAC-SHA256/384/512.</summary>
    public string[]? AllowedPbmMacAlgorithms { get; set; }

    public IReadOnlyList<string> PbmOneWayFunctions => AllowedPbmOneWayFunctions ?? ["SHA256", "SHA384", "SHA512"];

    public IReadOnlyList<string> PbmMacAlgorithms => AllowedPbmMacAlgorithms ?? ["HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA384", "HMAC-SHA512"];

    /// <summary>Accepted distance between the request's messageTime and our clock.</summary>
    public TimeSpan MessageTimeWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Set per alias (<see cref="CmpAliasOptions.RequireMessageTime"/>), not here: whether messageTime must be present.</summary>
    internal bool RequireMessageTime { get; set; }

    /// <summary>These limits with an alias's own MAC floors and messageTime window laid over them.</summary>
    public CmpLimits For(CmpAliasOptions alias)
    {
        if (alias.MacProtection is null && alias.MessageTimeWindow is null && alias.MessageTimeRequired == RequireMessageTime)
        {
            return this;
        }
        var merged = (CmpLimits)MemberwiseClone();
        MacProtectionOptions? mac = alias.MacProtection;
        merged.MinPbmIterations = mac?.MinIterations ?? MinPbmIterations;
        merged.MaxPbmIterations = mac?.MaxIterations ?? MaxPbmIterations;
        merged.MinPbmSaltBytes = mac?.MinSaltBytes ?? MinPbmSaltBytes;
        merged.AllowedPbmOneWayFunctions = mac?.AllowedOneWayFunctions ?? AllowedPbmOneWayFunctions;
        merged.AllowedPbmMacAlgorithms = mac?.AllowedMacAlgorithms ?? AllowedPbmMacAlgorithms;
        merged.MessageTimeWindow = alias.MessageTimeWindow ?? MessageTimeWindow;
        merged.RequireMessageTime = alias.MessageTimeRequired;
        return merged;
    }
}

/// <summary>
/// An alias's floors for MAC-based protection (RFC 9481 §6.1, RFC 9483 §3.2); unset values come from <c>Cmp:Limits</c>.
/// An alias for devices with weak secrets raises MinIterations; one for RAs may insist on HMAC-SHA256.
/// </summary>
public sealed class MacProtectionOptions
{
    /// <summary>Lowest PBM iterationCount accepted on this alias; unset: <c>Cmp:Limits:MinPbmIterations</c>.</summary>
    [Range(1, 10_000_000)]
    public int? MinIterations { get; set; }

    /// <summary>Highest PBM iterationCount accepted on this alias; unset: <c>Cmp:Limits:MaxPbmIterations</c>.</summary>
    [Range(1, 10_000_000)]
    public int? MaxIterations { get; set; }

    /// <summary>Shortest PBM salt accepted on this alias, in bytes; unset: <c>Cmp:Limits:MinPbmSaltBytes</c>.</summary>
    [Range(8, 64)]
    public int? MinSaltBytes { get; set; }

    /// <summary>SHA1, SHA256, SHA384, SHA512.</summary>
    public string[]? AllowedOneWayFunctions { get; set; }

    /// <summary>HMAC-SHA1, HMAC-SHA256, HMAC-SHA384, HMAC-SHA512.</summary>
    public string[]? AllowedMacAlgorithms { get; set; }
}

public enum AliasMode
{
    /// <summary>The client is an RA: requests are authenticated as the RA, end entities are created on the fly.</summary>
    Ra = 0,
    /// <summary>The client is a pre-registered end entity that proves its one-time enrollment code (EJBCA's default).</summary>
    Client = 1,
}

/// <summary>RA mode: how the username of the end entity created for a request is made (EJBCA's CMP documentation: "RA Name Generation Scheme").</summary>
public enum RaNameGeneration
{
    /// <summary>The DN part named by <see cref="CmpAliasOptions.RaNameGenerationParameter"/> (EJBCA's "DN" with parameter "UID"),
    /// or the whole requested subject DN when there is no parameter.</summary>
    Dn = 0,
    /// <summary>One part of the requested subject, named by <see cref="CmpAliasOptions.RaNameGenerationParameter"/> (e.g. UID, CN).</summary>
    DnPart = 1,
    /// <summary>A random name: every request makes a new end entity.</summary>
    Random = 2,
    /// <summary>Always <see cref="CmpAliasOptions.RaNameGenerationParameter"/>: one end entity for everything the RA requests.</summary>
    Fixed = 3,
    /// <summary>EJBCA's USERNAME scheme: the name the request gives, taken as it is: the requested subject DN unchanged.</summary>
    Username = 4,
}

/// <summary>Client mode: which part of the requested subject names the end entity (EJBCA's CMP documentation: "Extract Username Component").</summary>
public enum UserLookup
{
    /// <summary>The whole requested subject DN (RDN order and letter case ignored); EJBCA's default.</summary>
    Dn = 0,
    Cn = 1,
    Uid = 2,
}

public enum ResponseProtection
{
    /// <summary>Signature with the CA's CMP signer certificate.</summary>
    Signature = 0,
    /// <summary>PasswordBasedMac with the request's secret and parameters; falls back to signature when the request's MAC did not verify.</summary>
    Pbe = 1,
}

/// <summary>One CMP alias (EJBCA's "CMP configuration alias").</summary>
public sealed class CmpAliasOptions
{
    /// <summary>RA mode (the client is an RA; end entities are created as requests come) or client mode (registered end
    /// entities authenticate themselves).</summary>
    public AliasMode Mode { get; set; } = AliasMode.Ra;

    /// <summary>This alias's MAC parameter floors; unset: <c>Cmp:Limits</c>.</summary>
    public MacProtectionOptions? MacProtection { get; set; }

    /// <summary>This alias's messageTime window (RFC 9483 §3.1); unset: <c>Cmp:Limits:MessageTimeWindow</c>.</summary>
    public TimeSpan? MessageTimeWindow { get; set; }

    /// <summary>
    /// Whether a request without messageTime is refused (badTime). This is the replay protection that outlives a
    /// transaction's retention: a request older than the window is refused even after its transaction was deleted.
    /// Unset: required in RA mode (OpenSSL and RA components send messageTime), optional in client mode, where the
    /// one-time registration code already makes a replayed initial request fail.
    /// </summary>
    public bool? RequireMessageTime { get; set; }

    /// <summary><see cref="RequireMessageTime"/> with its default applied.</summary>
    public bool MessageTimeRequired => RequireMessageTime ?? Mode == AliasMode.Ra;

    /// <summary>Authentication modules tried in order; the first that succeeds wins. HMAC (both modes), RegTokenPwd and
    /// DnPartPwd (client mode). Default: HMAC.</summary>
    /// <remarks>Nullable because the configuration binder appends to pre-filled collections instead of replacing them.</remarks>
    public string[]? AuthenticationModules { get; set; }

    public IReadOnlyList<string> Modules => AuthenticationModules ?? ["HMAC"];

    /// <summary>Client mode: how the username is taken from the requested subject.</summary>
    public UserLookup UserLookup { get; set; } = UserLookup.Dn;

    /// <summary>Client mode, DnPartPwd module: the DN part of the requested subject that carries the code (e.g. UID).</summary>
    public string DnPartPwdComponent { get; set; } = "UID";

    /// <summary>RA mode: how the end entity's username is generated; an existing one is updated and re-issued.</summary>
    public RaNameGeneration RaNameGeneration { get; set; } = RaNameGeneration.Dn;

    /// <summary>RA mode: the DN part for DnPart (default CN), or the name for Fixed.</summary>
    public string? RaNameGenerationParameter { get; set; }

    /// <summary>Put before the generated username (RA mode), or before the vendor certificate's name (vendor certificate mode).</summary>
    public string RaNameGenerationPrefix { get; set; } = "";

    /// <summary>Put after the generated username (RA mode), or after the vendor certificate's name (vendor certificate mode).</summary>
    public string RaNameGenerationPostfix { get; set; } = "";

    /// <summary>RA mode, EndEntityCertificate module: the end entities (usernames) whose certificates may act as RA
    /// administrators on this alias.</summary>
    public string[]? RaAdministrators { get; set; }

    /// <summary>Shared secret of the HMAC module in RA mode (PasswordBasedMac). Never logged.</summary>
    public string? Secret { get; set; }

    /// <summary>When set, the request's senderKID must equal it (the RA's reference, openssl <c>-ref</c>).</summary>
    public string? SenderKid { get; set; }

    /// <summary>How responses are protected: a signature by the CA's CMP signer, or PasswordBasedMac with the request's
    /// secret (errors to a request whose MAC did not verify are signed).</summary>
    public ResponseProtection ResponseProtection { get; set; } = ResponseProtection.Signature;

    /// <summary>Accept the raVerified POP (RFC 4211 §4.1); off by default as the RFC advises.</summary>
    public bool AllowRaVerifiedPop { get; set; }

    /// <summary>
    /// Generate the key pair for a request whose template has no public key, or one with an empty subjectPublicKey
    /// (RFC 9483 §4.1.6; EJBCA's CMP documentation: "Server Generated Keys"), per the certificate profile's key rules. The
    /// private key is returned in the response only, encrypted to the requester: to the shared secret of a MAC-protected
    /// request, or to the key of the certificate that signed it. Off by default: such requests are badRequest.
    /// </summary>
    public bool AllowServerGeneratedKeys { get; set; }

    /// <summary>
    /// Legacy clients (EJBCA's CMP documentation, "Server Generated Keys"): a request with the id-regCtrl-protocolEncrKey control
    /// (RFC 4211 §6.6, an RSA key) gets its generated key as an EncryptedValue (RFC 4211 §2.1) to that key instead of the
    /// signed EnvelopedData of RFC 9483 §4.1.6.
    /// </summary>
    public bool ServerKeysAsEncryptedValue { get; set; }

    /// <summary>Grant implicitConfirm when the client asks for it (RFC 9810 §5.1.1.1).</summary>
    public bool AllowImplicitConfirm { get; set; } = true;

    /// <summary>How long an issued certificate waits for certConf before it is revoked.</summary>
    public TimeSpan ConfirmWaitTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Value of <see cref="Ca"/> or <see cref="CertificateProfile"/> that takes the name from the request's senderKID
    /// (EJBCA's CMP documentation: "KeyID").</summary>
    public const string KeyId = "KeyID";

    /// <summary>Name of the CA that issues for this alias, or <c>KeyID</c> (<see cref="KeyId"/>): the request's senderKID names it.</summary>
    public string Ca { get; set; } = "issuing";

    /// <summary>Name of the certificate profile applied to issued certificates, or <c>KeyID</c> (<see cref="KeyId"/>): the
    /// request's senderKID names it.</summary>
    public string CertificateProfile { get; set; } = "default";

    /// <summary>The end-entity profile (<see cref="CmpOptions.EndEntityProfiles"/>) of end entities this alias creates in RA mode.</summary>
    public string EndEntityProfile { get; set; } = "default";

    /// <summary>
    /// Names of <see cref="CmpOptions.Policies"/> asked, in order, about every enrollment on this alias after it is
    /// authenticated and checked and before anything is issued; the first that does not allow decides.
    /// </summary>
    public string[]? EnrollmentPolicies { get; set; }

    /// <summary>Put the root CA certificate into caPubs of ip/cp/kup.</summary>
    public bool IncludeRootInCaPubs { get; set; } = true;

    /// <summary>
    /// During a root rollover (<c>Pki:RootCaUpdate</c>), put the new root (newWithNew) into caPubs too, after the current
    /// one, so clients that install caPubs as trust anchors trust both before the switch (RFC 4210 §4.4).
    /// </summary>
    public bool IncludeNewRootInCaPubs { get; set; }

    /// <summary>
    /// Put the issuing (signing) CA's certificate at index 0 of caPubs, as EJBCA does (EJBCA's CMP documentation, "CMP Response
    /// Additional CA Certificates"); then the root, if <see cref="IncludeRootInCaPubs"/>, then <see cref="AdditionalCaPubs"/>.
    /// </summary>
    public bool CaPubsSigningCaFirst { get; set; }

    /// <summary>PEM files of further CA certificates for caPubs of ip/cp/kup (X.509 v3; checked at start).</summary>
    public string[]? AdditionalCaPubs { get; set; }

    /// <summary>
    /// PEM files of further certificates for extraCerts of every response on this alias, after the chain of whatever protects
    /// it (EJBCA's CMP documentation, "PKI Message Response Additional CA Certificates"); X.509 v3, checked at start.
    /// </summary>
    public string[]? AdditionalExtraCerts { get; set; }

    /// <summary>
    /// Vendor certificate mode (EJBCA's CMP documentation, "Use Vendor Certificate Mode", 3GPP TS 33.310), client mode with EndEntityCertificate:
    /// a first request may be signed with a device's vendor certificate whose chain (in extraCerts) ends at one of
    /// <see cref="VendorCas"/>. The end entity is named by the vendor certificate's <see cref="UserLookup"/> part (CN or UID)
    /// with <see cref="RaNameGenerationPrefix"/> and <see cref="RaNameGenerationPostfix"/>, so one vendor certificate can
    /// enroll several end entities through different aliases (EJBCA's CMP documentation: "_IPSEC", "_TLS").
    /// </summary>
    public bool VendorCertificateMode { get; set; }

    /// <summary>PEM files with the vendor CA certificates (trust anchors) this alias accepts (EJBCA: "List Of Vendor CAs").</summary>
    public string[]? VendorCas { get; set; }

    /// <summary>Optional PEM or DER CRL files of the vendor CAs; a listed vendor certificate is refused.</summary>
    public string[]? VendorCrls { get; set; }

    /// <summary>
    /// Nested messages (RFC 9810 §5.1.3.4, EJBCA's CMP documentation, "Multiprotection Support"): an inner message without protection of its own
    /// is accepted when the outer message's signature by one of the alias's <see cref="RaAdministrators"/> verified. Off by
    /// default: then every inner message must be protected for this alias as if it came alone.
    /// </summary>
    public bool AcceptUnprotectedInnerMessages { get; set; }

    /// <summary>
    /// Nested messages from RAs of another PKI: PEM files of the CA certificates an outer signer's chain (in extraCerts) may
    /// end at (the RA trust path). Without them only <see cref="RaAdministrators"/> (certificates of this cluster) may wrap.
    /// </summary>
    public string[]? NestedRaTrustAnchors { get; set; }

    /// <summary>kur may certify the key of the certificate it updates (EJBCA's CMP error table: refused with badMessageCheck
    /// unless allowed).</summary>
    public bool AllowKeyUpdateWithSameKey { get; set; }

    /// <summary>After a kur's new certificate is confirmed, revoke the certificate it updated (reason superseded).
    /// Off by default: the old certificate then stays valid until it expires, which eases a device's switch-over.</summary>
    public bool RevokeUpdatedCertificate { get; set; }
}

/// <summary>What an issued certificate looks like (EJBCA's certificate profile, the parts built so far).</summary>
public sealed class CertificateProfileOptions
{
    /// <summary>Validity of issued certificates in days (notAfter is never later than the issuing CA's).</summary>
    [Range(1, 36500)]
    public int ValidityDays { get; set; } = 365;

    /// <summary>
    /// Honour the validity a request asks for in its template (RFC 4211 §5 OptionalValidity), up to
    /// <see cref="MaxValidityDays"/>; a longer one is shortened and answered grantedWithMods (RFC 9810 §5.2.3). Off: the
    /// profile's <see cref="ValidityDays"/>, and a request that asked for a validity is answered grantedWithMods.
    /// </summary>
    public bool AllowValidityOverride { get; set; }

    /// <summary>The longest validity a request may ask for where <see cref="AllowValidityOverride"/> is on; unset: <see cref="ValidityDays"/>.</summary>
    [Range(1, 36500)]
    public int? MaxValidityDays { get; set; }

    /// <summary>Key algorithms this profile certifies: <c>EC</c>, <c>RSA</c> (RFC 9481 §2). Default: both.</summary>
    public string[]? AllowedKeyAlgorithms { get; set; }

    /// <summary>Curves for EC keys: <c>P-256</c>, <c>P-384</c>, <c>P-521</c>. Default: all three.</summary>
    public string[]? AllowedCurves { get; set; }

    /// <summary>Smallest RSA modulus certified, in bits.</summary>
    [Range(2048, 16384)]
    public int MinRsaBits { get; set; } = 2048;

    /// <summary>Largest RSA modulus certified, in bits.</summary>
    [Range(2048, 16384)]
    public int MaxRsaBits { get; set; } = 8192;

    public IReadOnlyList<string> KeyAlgorithms => AllowedKeyAlgorithms ?? ["EC", "RSA"];

    public IReadOnlyList<string> Curves => AllowedCurves ?? ["P-256", "P-384", "P-521"];

    /// <summary>RFC 5280 §4.2.1.3 names: digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement.
    /// Default (when not configured): digitalSignature, keyAgreement.</summary>
    public string[]? KeyUsage { get; set; }

    /// <summary>Extended key usages by name (serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, ocspSigning)
    /// or dotted OID. Default (when not configured): clientAuth, serverAuth. An empty list means no extension.</summary>
    public string[]? ExtendedKeyUsage { get; set; }

    // Nullable with defaults here because the configuration binder appends to pre-filled collections.
    public IReadOnlyList<string> KeyUsages => KeyUsage ?? ["digitalSignature", "keyAgreement"];

    public IReadOnlyList<string> ExtendedKeyUsages => ExtendedKeyUsage ?? ["clientAuth", "serverAuth"];

    /// <summary>
    /// Take the key usage a request asks for in its template instead of <see cref="KeyUsage"/> (EJBCA: "Allow Key Usage
    /// Override"); keyCertSign and cRLSign are never granted to an end entity (RFC 5280 §4.2.1.3).
    /// </summary>
    public bool AllowKeyUsageOverride { get; set; }

    /// <summary>Take the extended key usages a request asks for in its template instead of <see cref="ExtendedKeyUsage"/>.</summary>
    public bool AllowExtendedKeyUsageOverride { get; set; }

    /// <summary>Copy a subjectAltName extension from the CertTemplate.</summary>
    public bool AllowSubjectAltNameFromRequest { get; set; } = true;

    /// <summary>
    /// The subjectAltName name types taken from a request (RFC 5280 §4.2.1.6): <c>dns</c>, <c>ip</c>, <c>email</c>,
    /// <c>uri</c>, <c>dirName</c>, <c>rid</c>, <c>otherName</c>. Default: all. A name of another type is dropped or refused
    /// per <see cref="UnacceptedRequestContent"/>.
    /// </summary>
    public string[]? AllowedSubjectAltNameTypes { get; set; }

    /// <summary>
    /// What becomes of what a request asks for that this profile does not take from requests: a subjectAltName name of a
    /// type not in <see cref="AllowedSubjectAltNameTypes"/>, a subjectAltName where <see cref="AllowSubjectAltNameFromRequest"/>
    /// is off, any other template extension (key usage and extended key usage unless their override is allowed).
    /// <c>Drop</c>: the certificate goes without it, the answer is grantedWithMods (RFC 9810 §5.2.3). <c>Refuse</c>:
    /// <c>badCertTemplate</c> naming it, nothing issued.
    /// </summary>
    public UnacceptedRequestContent UnacceptedRequestContent { get; set; } = UnacceptedRequestContent.Drop;

    public IReadOnlyList<string> SubjectAltNameTypes => AllowedSubjectAltNameTypes ?? SubjectAltNameTypeNames.All;

    /// <summary>Back-date notBefore by this much, for device clocks that run a little slow.</summary>
    public TimeSpan NotBeforeSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Accept revocation with reason certificateHold (and removeFromCRL to release it). RFC 5280 §5.3.1 allows
    /// holds; many operators forbid them, so they are refused unless the profile allows them.</summary>
    public bool AllowCertificateHold { get; set; }

    /// <summary>Issue only after an operator approves the request through the admin API; meanwhile the client is told
    /// "waiting" and polls (RFC 9483 §4.4, delayed delivery).</summary>
    public bool RequireApproval { get; set; }

    /// <summary>Put a CRL distribution point (RFC 5280 §4.2.1.13) with the CA's CRL URL into issued certificates.</summary>
    public bool IncludeCrlDistributionPoint { get; set; } = true;

    /// <summary>Put an authority information access extension with the OCSP responder URL (RFC 5280 §4.2.2.1) into
    /// issued certificates.</summary>
    public bool IncludeOcspUrl { get; set; } = true;
}

/// <summary>One request-handler plug-in (protocol/Policy/IEnrollmentPolicy.cs).</summary>
public sealed class EnrollmentPolicyOptions
{
    /// <summary><c>DeviceInventory</c> (shipped: devices listed in <see cref="InventoryFile"/>) or <c>Assembly</c> (a deployment's own).</summary>
    public string Kind { get; set; } = "DeviceInventory";

    /// <summary>DeviceInventory: the inventory file (lines <c>cn:</c>, <c>subject:</c>, <c>serial:</c>), reread when it changes.</summary>
    public string? InventoryFile { get; set; }

    /// <summary>DeviceInventory: make an unlisted device wait (and poll) instead of refusing it.</summary>
    public bool DeferUnknown { get; set; }

    /// <summary>Assembly: the path of the plug-in's assembly.</summary>
    public string? AssemblyPath { get; set; }

    /// <summary>Assembly: the full name of the type that implements IEnrollmentPolicy.</summary>
    public string? TypeName { get; set; }

    /// <summary>Assembly: settings handed to the plug-in's constructor.</summary>
    public Dictionary<string, string?> Settings { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>An end-entity profile: the subject DN fields a request may carry (RA mode), by attribute name (CN, O, OU, C, L, ST, SERIALNUMBER, UID, DC, E).</summary>
public sealed class EndEntityProfileOptions
{
    /// <summary>
    /// The fields allowed, each with its rule; a field not listed is refused (badCertTemplate). Empty: every field is allowed
    /// as requested.
    /// </summary>
    public Dictionary<string, DnFieldRule> Fields { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Certificate profiles an alias with this end-entity profile may issue with; unset: any.</summary>
    public string[]? AllowedCertificateProfiles { get; set; }

    /// <summary>CAs an alias or a registered end entity with this end-entity profile may issue from; unset: any.</summary>
    public string[]? AllowedCas { get; set; }
}

/// <summary>How one subject DN field is used.</summary>
public sealed class DnFieldRule
{
    /// <summary><c>Optional</c> (may be requested), <c>Required</c> (must be), <c>Fixed</c> (always <see cref="Value"/>, whatever is
    /// requested), <c>Default</c> (<see cref="Value"/> when not requested).</summary>
    public DnFieldUse Use { get; set; } = DnFieldUse.Optional;

    /// <summary>The value of a Fixed or Default field.</summary>
    public string? Value { get; set; }
}

public enum DnFieldUse
{
    Optional = 0,
    Required = 1,
    Fixed = 2,
    Default = 3,
}

/// <summary>See <see cref="CertificateProfileOptions.UnacceptedRequestContent"/>.</summary>
public enum UnacceptedRequestContent
{
    Drop = 0,
    Refuse = 1,
}

/// <summary>The configuration names of RFC 5280 §4.2.1.6 GeneralName types, by their context tag.</summary>
public static class SubjectAltNameTypeNames
{
    public static readonly IReadOnlyList<string> All = ["otherName", "email", "dns", "dirName", "uri", "ip", "rid"];

    /// <summary>The name of GeneralName tag <paramref name="tag"/> (x400Address and ediPartyName have none: never taken).</summary>
    public static string? Of(int tag) => tag switch
    {
        0 => "otherName",
        1 => "email",
        2 => "dns",
        4 => "dirName",
        6 => "uri",
        7 => "ip",
        8 => "rid",
        _ => null,
    };
}
