namespace CmpCluster.Contracts;

/// <summary>PKIFailureInfo bit numbers, RFC 9810 §5.2.3. Frozen: the numbers are the wire bit positions.</summary>
public enum PkiFailureInfo
{
    BadAlg = 0,
    BadMessageCheck = 1,
    BadRequest = 2,
    BadTime = 3,
    BadCertId = 4,
    BadDataFormat = 5,
    WrongAuthority = 6,
    IncorrectData = 7,
    MissingTimeStamp = 8,
    BadPop = 9,
    CertRevoked = 10,
    CertConfirmed = 11,
    WrongIntegrity = 12,
    BadRecipientNonce = 13,
    TimeNotAvailable = 14,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
    AddInfoNotAvailable = 17,
    BadSenderNonce = 18,
    BadCertTemplate = 19,
    SignerNotTrusted = 20,
    TransactionIdInUse = 21,
    UnsupportedVersion = 22,
    NotAuthorized = 23,
    SystemUnavail = 24,
    SystemFailure = 25,
    DuplicateCertReq = 26,
}
