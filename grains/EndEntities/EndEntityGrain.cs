using System.Security.Cryptography;
using System.Text;
using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Protection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.EndEntities;

[GenerateSerializer]
[Alias("CmpCluster.EndEntityState")]
public sealed class EndEntityState
{
    [Id(0)] public EndEntityRegistration? Registration { get; set; }
    [Id(1)] public EndEntityStatus Status { get; set; }
    [Id(2)] public List<string> CertificateKeys { get; set; } = [];
    [Id(3)] public DateTimeOffset Created { get; set; }
    [Id(4)] public DateTimeOffset Modified { get; set; }
    /// <summary>The transaction whose enrollment is open, and since when; an abandoned one expires.</summary>
    [Id(5)] public string? OpenTransaction { get; set; }
    [Id(6)] public DateTimeOffset? OpenSince { get; set; }
    /// <summary>The transaction of the last completed enrollment: its certConf may still use the consumed code.</summary>
    [Id(7)] public string? LastTransaction { get; set; }
    /// <summary>A held enrollment (key update awaiting certConf) blocks others until this time, not just for the abandon period.</summary>
    [Id(8)] public DateTimeOffset? OpenUntil { get; set; }
}

/// <summary>
/// A registered end entity (EJBCA's "end entity"): registration, status NEW → GENERATED, linked certificates and the
/// one-time enrollment code. The code is kept (sealed, <see cref="SecretSealer"/>) because PasswordBasedMac needs the secret itself; it is never logged and
/// never returned — MAC verification happens here and only the per-message derived key leaves the grain.
/// An end entity is busy for one enrollment and idle for months: its activation goes when the enrollment is recorded
/// or released, and after two idle minutes when it was only read.
/// </summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class EndEntityGrain(
    [Microsoft.Extensions.DependencyInjection.FromKeyedServices(GrainNames.Storage)] Orleans.Storage.IGrainStorage store,
    IGrainContext context,
    IOptionsMonitor<CmpOptions> options,
    SecretSealer sealer,
    ISubjectIndex subjects,
    TimeProvider time,
    ILogger<EndEntityGrain> logger) : Grain, IEndEntityGrain
{
    /// <summary>Read at activation (<see cref="OnActivateAsync"/>), written by this grain alone; see <see cref="Storage.StoredState{TState}"/>.</summary>
    private readonly Storage.StoredState<EndEntityState> state = new(store, "endEntity", context.GrainId);

    public override Task OnActivateAsync(CancellationToken cancellationToken) => state.ReadStateAsync();

    /// <summary>An enrollment opened but never completed or aborted (a crash between the two) stops blocking after this.</summary>
    private static readonly TimeSpan AbandonedEnrollment = TimeSpan.FromMinutes(5);

    public Task<EndEntityView?> GetAsync() => Task.FromResult(View());

    public async Task<EndEntityView?> RegisterAsync(EndEntityRegistration registration, bool replace)
    {
        if (state.State.Registration is not null && !replace)
        {
            return null;
        }
        DateTimeOffset now = time.GetUtcNow();
        if (state.State.Registration is null)
        {
            state.State.Created = now;
        }
        string? previousDn = state.State.Registration?.SubjectDn;
        state.State.Registration = registration with { EnrollmentCode = Seal(registration.EnrollmentCode ?? NewCode()) };
        state.State.Status = EndEntityStatus.New;
        state.State.Modified = now;
        await state.WriteStateAsync();
        await ReindexAsync(previousDn, registration.SubjectDn);
        LogAudit(logger, "registered", Username, registration.SubjectDn);
        return View();
    }

    public async Task<EndEntityView?> UpdateAsync(EndEntityRegistration registration)
    {
        if (state.State.Registration is not { } current)
        {
            return null;
        }
        state.State.Registration = registration with
        {
            EnrollmentCode = registration.EnrollmentCode is { } code ? Seal(code) : current.EnrollmentCode,
        };
        state.State.Modified = time.GetUtcNow();
        await state.WriteStateAsync();
        await ReindexAsync(current.SubjectDn, registration.SubjectDn);
        LogAudit(logger, "updated", Username, registration.SubjectDn);
        return View();
    }

    public async Task<bool> DeleteAsync()
    {
        if (state.State.Registration is not { } current)
        {
            return false;
        }
        await state.ClearStateAsync();
        await ReindexAsync(current.SubjectDn, null);
        state.State = new EndEntityState();
        LogAudit(logger, "deleted", Username, "-");
        return true;
    }

    public async Task<EndEntityView?> ResetAsync(string enrollmentCode)
    {
        if (state.State.Registration is not { } current)
        {
            return null;
        }
        state.State.Registration = current with { EnrollmentCode = Seal(enrollmentCode) };
        state.State.Status = EndEntityStatus.New;
        state.State.OpenTransaction = null;
        state.State.OpenSince = null;
        state.State.OpenUntil = null;
        state.State.Modified = time.GetUtcNow();
        await state.WriteStateAsync();
        LogAudit(logger, "reset", Username, current.SubjectDn);
        return View();
    }

    public async Task<EnrollmentGrant> BeginEnrollmentAsync(string transactionKey, EnrollmentProof proof)
    {
        DateTimeOffset now = time.GetUtcNow();
        // A code works once (status NEW); a certificate this end entity owns works in any status (EJBCA's CMP error table: EndEntityCertificate).
        bool byCertificate = proof.CertificateKey is not null;
        if (state.State.Registration is not { EnrollmentCode: { } code } || (!byCertificate && state.State.Status != EndEntityStatus.New))
        {
            return Refuse(EnrollmentRefusal.NotAuthorized);
        }
        if (state.State.OpenTransaction is { } open && open != transactionKey && now < (state.State.OpenUntil ?? state.State.OpenSince + AbandonedEnrollment))
        {
            return Refuse(EnrollmentRefusal.EnrollmentOpen);
        }
        (EnrollmentRefusal refusal, byte[]? macKey) = Check(proof, code);
        if (refusal != EnrollmentRefusal.None)
        {
            return Refuse(refusal);
        }
        state.State.OpenTransaction = transactionKey;
        state.State.OpenSince = now;
        state.State.OpenUntil = null;
        await state.WriteStateAsync();
        return new EnrollmentGrant(EnrollmentRefusal.None, View(), macKey);
    }

    public Task<EnrollmentGrant> VerifyFollowUpAsync(string transactionKey, EnrollmentProof proof)
    {
        if (state.State.Registration is not { EnrollmentCode: { } code }
            || (state.State.LastTransaction != transactionKey && state.State.OpenTransaction != transactionKey))
        {
            return Task.FromResult(Refuse(EnrollmentRefusal.NotAuthorized));
        }
        (EnrollmentRefusal refusal, byte[]? macKey) = Check(proof, code);
        if (state.State.LastTransaction == transactionKey && state.State.OpenTransaction != transactionKey)
        {
            // The certConf of a completed enrollment that holds nothing open: this end entity's business is done (see
            // CompleteEnrollmentAsync). A retransmission reads it back.
            DeactivateOnIdle();
        }
        return Task.FromResult(refusal == EnrollmentRefusal.None ? new EnrollmentGrant(refusal, View(), macKey) : Refuse(refusal));
    }

    public Task<byte[]?> DeriveKeyEncryptionKeyAsync(string transactionKey, byte[] salt, int iterations)
    {
        if (state.State.OpenTransaction != transactionKey || state.State.Status != EndEntityStatus.New
            || state.State.Registration is not { EnrollmentCode: { } sealedCode } || sealer.Unseal(sealedCode, Username) is not { } code
            || iterations is < 1000 or > 1_000_000 || salt.Length is < 8 or > 64)
        {
            return Task.FromResult<byte[]?>(null);
        }
        return Task.FromResult<byte[]?>(Protocol.ServerKeys.KeyRecipient.Password.DeriveKey(Encoding.UTF8.GetBytes(code), salt, iterations));
    }

    public async Task CompleteEnrollmentAsync(string transactionKey, string certificateKey, DateTimeOffset? holdUntil = null, bool followUpExpected = false)
    {
        if (state.State.OpenTransaction != transactionKey || state.State.Registration is null)
        {
            throw new InvalidOperationException($"no open enrollment of {Username} for {transactionKey}");
        }
        // The code is one-time: GENERATED until an operator resets the end entity (EJBCA's CMP documentation: "Client Mode for CMP").
        state.State.Status = EndEntityStatus.Generated;
        Link(certificateKey);
        state.State.LastTransaction = transactionKey;
        state.State.OpenTransaction = holdUntil is null ? null : transactionKey;
        state.State.OpenSince = holdUntil is null ? null : state.State.OpenSince;
        state.State.OpenUntil = holdUntil;
        state.State.Modified = time.GetUtcNow();
        await state.WriteStateAsync();
        LogAudit(logger, "generated", Username, state.State.Registration.SubjectDn);
        if (holdUntil is null && !followUpExpected)
        {
            // Nothing more to do here until the device's next enrollment (see RecordRaIssuanceAsync); with a certConf to
            // authenticate, VerifyFollowUpAsync lets the activation go.
            DeactivateOnIdle();
        }
    }

    public async Task RecordRaIssuanceAsync(EndEntityRegistration registration, string certificateKey)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (state.State.Registration is null)
        {
            state.State.Created = now;
        }
        // The RA authenticated the request; the end entity's own code is random and never used (EJBCA's CMP documentation: "RA mode for CMP").
        string? previousDn = state.State.Registration?.SubjectDn;
        state.State.Registration = registration with { EnrollmentCode = state.State.Registration?.EnrollmentCode ?? Seal(NewCode()) };
        state.State.Status = EndEntityStatus.Generated;
        Link(certificateKey);
        state.State.Modified = now;
        await state.WriteStateAsync();
        await ReindexAsync(previousDn, registration.SubjectDn);
        LogAudit(logger, "ra-issued", Username, registration.SubjectDn);
        // An RA's issuance is the whole of this end entity's business for now (its next is a renewal months away): the
        // activation goes at once instead of living two minutes into the garbage collector's oldest generation, where
        // tens of thousands of them made every full collection expensive (docs/BENCHMARKS.md, "2026-12-04 — what an
        // enrollment leaves for later").
        DeactivateOnIdle();
    }

    /// <summary>
    /// Links an issued certificate, newest last. A resumed issuance (after a crash) links the same certificate again: once.
    /// The list is bounded (<see cref="MaxLinkedCertificates"/>): a device renewing for years would otherwise grow its end
    /// entity without end. The oldest links go first; their certificates stay in the store, revocable by an RA or operator.
    /// </summary>
    private void Link(string certificateKey)
    {
        if (state.State.CertificateKeys.Contains(certificateKey))
        {
            return;
        }
        state.State.CertificateKeys.Add(certificateKey);
        if (state.State.CertificateKeys.Count > MaxLinkedCertificates)
        {
            state.State.CertificateKeys.RemoveRange(0, state.State.CertificateKeys.Count - MaxLinkedCertificates);
        }
    }

    /// <summary>How many certificates an end entity keeps linked (the newest): what it may update (kur) or revoke itself.</summary>
    public const int MaxLinkedCertificates = 32;

    public async Task AbortEnrollmentAsync(string transactionKey)
    {
        if (state.State.OpenTransaction == transactionKey)
        {
            state.State.OpenTransaction = null;
            state.State.OpenSince = null;
            state.State.OpenUntil = null;
            await state.WriteStateAsync();
            // The enrollment this end entity held open is over (see RecordRaIssuanceAsync).
            DeactivateOnIdle();
        }
    }

    private (EnrollmentRefusal, byte[]?) Check(EnrollmentProof proof, string sealedCode)
    {
        if (proof.CertificateKey is { } certificateKey)
        {
            return (state.State.CertificateKeys.Contains(certificateKey) ? EnrollmentRefusal.None : EnrollmentRefusal.NotAuthorized, null);
        }
        if (proof.VendorCertificate)
        {
            return (EnrollmentRefusal.None, null);
        }
        if (sealer.Unseal(sealedCode, Username) is not { } code)
        {
            return (EnrollmentRefusal.NotAuthorized, null);
        }
        byte[] secret = Encoding.UTF8.GetBytes(code);
        if (proof.Password is { } password)
        {
            return CryptographicOperations.FixedTimeEquals(secret, Encoding.UTF8.GetBytes(password))
                ? (EnrollmentRefusal.None, null)
                : (EnrollmentRefusal.NotAuthorized, null);
        }
        if (proof is { MacAlgorithm: { } algorithmDer, ProtectedPart: { } protectedPart, Protection: { } protection })
        {
            try
            {
                var algorithm = AlgorithmIdentifier.GetInstance(Asn1Object.FromByteArray(algorithmDer));
                PasswordBasedMac mac = PasswordBasedMac.Derive(algorithm, secret, options.CurrentValue.Limits);
                return mac.Verify(protectedPart, protection) ? (EnrollmentRefusal.None, mac.ExportKey()) : (EnrollmentRefusal.NotAuthorized, null);
            }
            catch (Exception e) when (e is CmpFailureException or ArgumentException or IOException)
            {
                return (EnrollmentRefusal.BadMacParameters, null);
            }
        }
        return (EnrollmentRefusal.NotAuthorized, null);
    }

    /// <summary>Keeps the subject-DN index in step, after the end entity's own write (the index may briefly lag, never lead).</summary>
    private async Task ReindexAsync(string? previousDn, string? currentDn)
    {
        string? previous = previousDn is null ? null : DnCanonical.Key(previousDn);
        string? current = currentDn is null ? null : DnCanonical.Key(currentDn);
        if (previous is not null && previous != current)
        {
            await subjects.RemoveAsync(previous, Username);
        }
        if (current is not null)
        {
            // Also when the DN is unchanged: an entry a crash kept from being written is written now.
            await subjects.AddAsync(current, Username);
        }
    }

    private EnrollmentGrant Refuse(EnrollmentRefusal refusal) => new(refusal, null, null);

    private string Username => this.GetPrimaryKeyString();

    private EndEntityView? View() => state.State.Registration is not { } r
        ? null
        : new EndEntityView(Username, r.SubjectDn, r.SubjectAltNames, r.Ca, r.CertificateProfile, r.EndEntityProfile,
            state.State.Status, state.State.CertificateKeys.ToArray(), state.State.Created, state.State.Modified,
            state.State.OpenTransaction is not null);

    private string Seal(string code) => sealer.Seal(code, Username);

    /// <summary>A random enrollment code when the operator gives none: 20 characters, about 119 bits.</summary>
    private static string NewCode() => RandomNumberGenerator.GetString("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", 20);

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "audit endEntity {Event} {Username} subject={Subject}")]
    private static partial void LogAudit(ILogger logger, string @event, string username, string subject);
}
