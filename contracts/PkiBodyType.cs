namespace CmpCluster.Contracts;

/// <summary>PKIBody CHOICE tags, RFC 9810 §5.1.2. Frozen: the numbers are the wire tags.</summary>
public enum PkiBodyType
{
    Ir = 0,
    Ip = 1,
    Cr = 2,
    Cp = 3,
    P10Cr = 4,
    Popdecc = 5,
    Popdecr = 6,
    Kur = 7,
    Kup = 8,
    Krr = 9,
    Krp = 10,
    Rr = 11,
    Rp = 12,
    Ccr = 13,
    Ccp = 14,
    Ckuann = 15,
    Cann = 16,
    Rann = 17,
    Crlann = 18,
    PkiConf = 19,
    Nested = 20,
    Genm = 21,
    Genp = 22,
    Error = 23,
    CertConf = 24,
    PollReq = 25,
    PollRep = 26,
}
