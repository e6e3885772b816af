//go:build !noasm

#include "textflag.h"

// Sparse-weight kernels, AVX2 + FMA (see kernels_amd64.go). Column
// indices are non-negative int32, so MOVL's zero extension gives the
// 64-bit index.

// Horizontal sum of Y0 into X0 (clobbers X1).
#define HSUM_Y0 \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0

// tailMask is eight all-ones lanes then eight zero lanes: the mask for the
// first r lanes is the eight words at tailMask+32−4r.
DATA tailMask<>+0(SB)/4, $0xffffffff
DATA tailMask<>+4(SB)/4, $0xffffffff
DATA tailMask<>+8(SB)/4, $0xffffffff
DATA tailMask<>+12(SB)/4, $0xffffffff
DATA tailMask<>+16(SB)/4, $0xffffffff
DATA tailMask<>+20(SB)/4, $0xffffffff
DATA tailMask<>+24(SB)/4, $0xffffffff
DATA tailMask<>+28(SB)/4, $0xffffffff
DATA tailMask<>+32(SB)/4, $0
DATA tailMask<>+36(SB)/4, $0
DATA tailMask<>+40(SB)/4, $0
DATA tailMask<>+44(SB)/4, $0
DATA tailMask<>+48(SB)/4, $0
DATA tailMask<>+52(SB)/4, $0
DATA tailMask<>+56(SB)/4, $0
DATA tailMask<>+60(SB)/4, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// func csrDotAVX2(val *float32, col *int32, n int, x *float32) float32
TEXT ·csrDotAVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   col+8(FP), DI
	MOVQ   n+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

csrDot16:
	CMPQ        CX, $16
	JLT         csrDot8
	VMOVDQU     (DI), Y2
	VMOVDQU     32(DI), Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         csrDot16

csrDot8:
	CMPQ        CX, $8
	JLT         csrDotReduce
	VMOVDQU     (DI), Y2
	VPCMPEQD    Y4, Y4, Y4
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VFMADD231PS (SI), Y6, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

csrDotReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

csrDotTail:
	TESTQ       CX, CX
	JZ          csrDotDone
	MOVL        (DI), AX
	VMOVSS      (DX)(AX*4), X1
	VFMADD231SS (SI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         csrDotTail

csrDotDone:
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func panelRowAVX2(out *float32, n int, val *float32, col *int32, nnz int, p *float32, ldp int, acc int)
// R10 = ldp in bytes, DX = p at the current column tile, R11 = k, R12 =
// acc (0: start from zero, else add to out).
TEXT ·panelRowAVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ val+16(FP), SI
	MOVQ col+24(FP), R8
	MOVQ nnz+32(FP), R9
	MOVQ p+40(FP), DX
	MOVQ ldp+48(FP), R10
	SHLQ $2, R10
	MOVQ acc+56(FP), R12

panel64:
	CMPQ   CX, $64
	JLT    panel32
	TESTQ  R12, R12
	JZ     panel64Zero
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	JMP    panel64Go

panel64Zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

panel64Go:
	XORQ   R11, R11

panel64K:
	CMPQ         R11, R9
	JGE          panel64Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	VFMADD231PS  128(AX), Y15, Y4
	VFMADD231PS  160(AX), Y15, Y5
	VFMADD231PS  192(AX), Y15, Y6
	VFMADD231PS  224(AX), Y15, Y7
	INCQ         R11
	JMP          panel64K

panel64Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, DX
	SUBQ    $64, CX
	JMP     panel64

panel32:
	CMPQ   CX, $32
	JLT    panel8
	TESTQ  R12, R12
	JZ     panel32Zero
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	JMP    panel32Go

panel32Zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

panel32Go:
	XORQ   R11, R11

panel32K:
	CMPQ         R11, R9
	JGE          panel32Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	INCQ         R11
	JMP          panel32K

panel32Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, DX
	SUBQ    $32, CX
	JMP     panel32

// Tiles of 8: two accumulators (even and odd k) so that consecutive FMAs
// do not wait on each other.
panel8:
	CMPQ   CX, $8
	JLT    panelTail
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ  R12, R12
	JZ     panel8Go
	VMOVUPS (DI), Y0

panel8Go:
	XORQ   R11, R11

panel8K:
	LEAQ         1(R11), BX
	CMPQ         BX, R9
	JGE          panel8Last
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0
	MOVL         (R8)(BX*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(BX*4), Y14
	VFMADD231PS  (DX)(AX*1), Y14, Y1
	ADDQ         $2, R11
	JMP          panel8K

panel8Last:
	CMPQ         R11, R9
	JGE          panel8Store
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0

panel8Store:
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     panel8

// The last n%8 columns: masked loads read only the valid lanes (the others
// are zero and touch no memory past the row's end), a masked store writes
// them. Y14 = the mask: lanes below CX all ones.
panelTail:
	TESTQ   CX, CX
	JZ      panelDone
	LEAQ    tailMask<>+32(SB), AX
	SHLQ    $2, CX
	SUBQ    CX, AX
	VMOVDQU (AX), Y14
	VXORPS  Y0, Y0, Y0
	TESTQ   R12, R12
	JZ      panelTailGo
	VMASKMOVPS (DI), Y14, Y0

panelTailGo:
	XORQ R11, R11

panelTailK:
	CMPQ         R11, R9
	JGE          panelTailStore
	MOVL         (R8)(R11*4), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VMASKMOVPS   (DX)(AX*1), Y14, Y2
	VFMADD231PS  Y2, Y15, Y0
	INCQ         R11
	JMP          panelTailK

panelTailStore:
	VMASKMOVPS Y0, Y14, (DI)

panelDone:
	VZEROUPPER
	RET

// func csrDot16AVX2(val *float32, col *uint16, n int, x *float32) float32
TEXT ·csrDot16AVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   col+8(FP), DI
	MOVQ   n+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

csrDot16W16:
	CMPQ        CX, $16
	JLT         csrDot16W8
	VPMOVZXWD   (DI), Y2
	VPMOVZXWD   16(DI), Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	ADDQ        $64, SI
	ADDQ        $32, DI
	SUBQ        $16, CX
	JMP         csrDot16W16

csrDot16W8:
	CMPQ        CX, $8
	JLT         csrDot16Reduce
	VPMOVZXWD   (DI), Y2
	VPCMPEQD    Y4, Y4, Y4
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VFMADD231PS (SI), Y6, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX

csrDot16Reduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0

csrDot16Tail:
	TESTQ       CX, CX
	JZ          csrDot16Done
	MOVWLZX     (DI), AX
	VMOVSS      (DX)(AX*4), X1
	VFMADD231SS (SI), X1, X0
	ADDQ        $4, SI
	ADDQ        $2, DI
	DECQ        CX
	JMP         csrDot16Tail

csrDot16Done:
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func panelRow16AVX2(out *float32, n int, val *float32, col *uint16, nnz int, p *float32, ldp int, acc int)
// panelRowAVX2 with 16-bit columns.
TEXT ·panelRow16AVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ n+8(FP), CX
	MOVQ val+16(FP), SI
	MOVQ col+24(FP), R8
	MOVQ nnz+32(FP), R9
	MOVQ p+40(FP), DX
	MOVQ ldp+48(FP), R10
	SHLQ $2, R10
	MOVQ acc+56(FP), R12

panel16W64:
	CMPQ   CX, $64
	JLT    panel16W32
	TESTQ  R12, R12
	JZ     panel16W64Zero
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	JMP    panel16W64Go

panel16W64Zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

panel16W64Go:
	XORQ   R11, R11

panel16W64K:
	CMPQ         R11, R9
	JGE          panel16W64Store
	MOVWLZX      (R8)(R11*2), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	VFMADD231PS  128(AX), Y15, Y4
	VFMADD231PS  160(AX), Y15, Y5
	VFMADD231PS  192(AX), Y15, Y6
	VFMADD231PS  224(AX), Y15, Y7
	INCQ         R11
	JMP          panel16W64K

panel16W64Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    $256, DI
	ADDQ    $256, DX
	SUBQ    $64, CX
	JMP     panel16W64

panel16W32:
	CMPQ   CX, $32
	JLT    panel16W8
	TESTQ  R12, R12
	JZ     panel16W32Zero
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	JMP    panel16W32Go

panel16W32Zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

panel16W32Go:
	XORQ   R11, R11

panel16W32K:
	CMPQ         R11, R9
	JGE          panel16W32Store
	MOVWLZX      (R8)(R11*2), AX
	IMULQ        R10, AX
	ADDQ         DX, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (AX), Y15, Y0
	VFMADD231PS  32(AX), Y15, Y1
	VFMADD231PS  64(AX), Y15, Y2
	VFMADD231PS  96(AX), Y15, Y3
	INCQ         R11
	JMP          panel16W32K

panel16W32Store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, DI
	ADDQ    $128, DX
	SUBQ    $32, CX
	JMP     panel16W32

// Tiles of 8: two accumulators (even and odd k) so that consecutive FMAs
// do not wait on each other.
panel16W8:
	CMPQ   CX, $8
	JLT    panel16Tail
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ  R12, R12
	JZ     panel16W8Go
	VMOVUPS (DI), Y0

panel16W8Go:
	XORQ   R11, R11

panel16W8K:
	LEAQ         1(R11), BX
	CMPQ         BX, R9
	JGE          panel16W8Last
	MOVWLZX      (R8)(R11*2), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0
	MOVWLZX      (R8)(BX*2), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(BX*4), Y14
	VFMADD231PS  (DX)(AX*1), Y14, Y1
	ADDQ         $2, R11
	JMP          panel16W8K

panel16W8Last:
	CMPQ         R11, R9
	JGE          panel16W8Store
	MOVWLZX      (R8)(R11*2), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VFMADD231PS  (DX)(AX*1), Y15, Y0

panel16W8Store:
	VADDPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     panel16W8

// The last n%8 columns: masked loads read only the valid lanes (the others
// are zero and touch no memory past the row's end), a masked store writes
// them. Y14 = the mask: lanes below CX all ones.
panel16Tail:
	TESTQ   CX, CX
	JZ      panel16Done
	LEAQ    tailMask<>+32(SB), AX
	SHLQ    $2, CX
	SUBQ    CX, AX
	VMOVDQU (AX), Y14
	VXORPS  Y0, Y0, Y0
	TESTQ   R12, R12
	JZ      panel16TailGo
	VMASKMOVPS (DI), Y14, Y0

panel16TailGo:
	XORQ R11, R11

panel16TailK:
	CMPQ         R11, R9
	JGE          panel16TailStore
	MOVWLZX      (R8)(R11*2), AX
	IMULQ        R10, AX
	VBROADCASTSS (SI)(R11*4), Y15
	VMASKMOVPS   (DX)(AX*1), Y14, Y2
	VFMADD231PS  Y2, Y15, Y0
	INCQ         R11
	JMP          panel16TailK

panel16TailStore:
	VMASKMOVPS Y0, Y14, (DI)

panel16Done:
	VZEROUPPER
	RET

// func bsr1x8DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32
TEXT ·bsr1x8DotAVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   bcol+8(FP), DI
	MOVQ   nb+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

bsr2:
	CMPQ        CX, $2
	JLT         bsr1
	MOVL        (DI), AX
	MOVL        4(DI), BX
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VFMADD231PS (DX)(AX*4), Y2, Y0
	VFMADD231PS (DX)(BX*4), Y3, Y1
	ADDQ        $64, SI
	ADDQ        $8, DI
	SUBQ        $2, CX
	JMP         bsr2

bsr1:
	TESTQ       CX, CX
	JZ          bsrReduce
	MOVL        (DI), AX
	VMOVUPS     (SI), Y2
	VFMADD231PS (DX)(AX*4), Y2, Y0

bsrReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET


// func bsr1x4DotAVX2(val *float32, bcol *int32, nb int, x *float32) float32
TEXT ·bsr1x4DotAVX2(SB), NOSPLIT, $0-36
	MOVQ   val+0(FP), SI
	MOVQ   bcol+8(FP), DI
	MOVQ   nb+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1

bsr4w2:
	CMPQ        CX, $2
	JLT         bsr4w1
	MOVL        (DI), AX
	MOVL        4(DI), BX
	VMOVUPS     (SI), X2
	VMOVUPS     16(SI), X3
	VFMADD231PS (DX)(AX*4), X2, X0
	VFMADD231PS (DX)(BX*4), X3, X1
	ADDQ        $32, SI
	ADDQ        $8, DI
	SUBQ        $2, CX
	JMP         bsr4w2

bsr4w1:
	TESTQ       CX, CX
	JZ          bsr4Reduce
	MOVL        (DI), AX
	VMOVUPS     (SI), X2
	VFMADD231PS (DX)(AX*4), X2, X0

bsr4Reduce:
	VADDPS  X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// func nmDotAVX2(val *float32, pos *uint8, cnt int, x *float32, base *[8]int32, step int) float32
// Y8 = the lanes' group offsets, Y9 = step in every lane.
TEXT ·nmDotAVX2(SB), NOSPLIT, $0-52
	MOVQ         val+0(FP), SI
	MOVQ         pos+8(FP), DI
	MOVQ         cnt+16(FP), CX
	MOVQ         x+24(FP), DX
	MOVQ         base+32(FP), AX
	VMOVDQU      (AX), Y8
	MOVQ         step+40(FP), AX
	MOVQ         AX, X9
	VPBROADCASTD X9, Y9
	VPADDD       Y9, Y9, Y10
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1

nm16:
	CMPQ        CX, $16
	JLT         nm8
	VPMOVZXBD   (DI), Y2
	VPMOVZXBD   8(DI), Y3
	VPADDD      Y8, Y2, Y2
	VPADDD      Y8, Y3, Y3
	VPADDD      Y9, Y3, Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	VPADDD      Y10, Y8, Y8
	ADDQ        $64, SI
	ADDQ        $16, DI
	SUBQ        $16, CX
	JMP         nm16

nm8:
	CMPQ        CX, $8
	JLT         nmReduce
	VPMOVZXBD   (DI), Y2
	VPADDD      Y8, Y2, Y2
	VPCMPEQD    Y4, Y4, Y4
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VFMADD231PS (SI), Y6, Y0

nmReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VZEROUPPER
	MOVSS  X0, ret+48(FP)
	RET


// func transpose8AVX(src *float32, lds int, dst *float32, ldd int, blocks int)
// dst[c·ldd+r] = src[r·lds+c] for r < 8, c < 8·blocks: blocks 8×8 tiles
// side by side in src, each transposed in registers (unpack, shuffle,
// swap 128-bit halves).
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), R8
	SHLQ $2, R8
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), R9
	SHLQ $2, R9
	MOVQ blocks+32(FP), CX
	LEAQ (R8)(R8*2), R10 // 3·lds
	LEAQ (R9)(R9*2), R11 // 3·ldd

transposeBlock:
	TESTQ CX, CX
	JZ    transposeDone
	MOVQ  SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (AX)(R8*2), Y2
	VMOVUPS (AX)(R10*1), Y3
	LEAQ    (AX)(R8*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R8*1), Y5
	VMOVUPS (AX)(R8*2), Y6
	VMOVUPS (AX)(R10*1), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	MOVQ    DI, BX
	VMOVUPS Y8, (BX)
	VMOVUPS Y9, (BX)(R9*1)
	VMOVUPS Y10, (BX)(R9*2)
	VMOVUPS Y11, (BX)(R11*1)
	LEAQ    (BX)(R9*4), BX
	VMOVUPS Y12, (BX)
	VMOVUPS Y13, (BX)(R9*1)
	VMOVUPS Y14, (BX)(R9*2)
	VMOVUPS Y15, (BX)(R11*1)

	ADDQ $32, SI
	LEAQ (DI)(R9*8), DI
	DECQ CX
	JMP  transposeBlock

transposeDone:
	VZEROUPPER
	RET

// func nmHalfDotAVX2(val *float32, pos *uint8, chunks int, x *float32, lane *[8]int32) float32
// N:M with N/M = 1/2 and M ≤ 8 (2:4, 4:8): eight kept values come from 16
// consecutive inputs, two vectors of x. Lane j's input is at
// lane[j] + pos[j] within the vector of its half (lanes 0–3: the first,
// 4–7: the second), so two VPERMPS and a blend stand in for a gather.
TEXT ·nmHalfDotAVX2(SB), NOSPLIT, $0-44
	MOVQ    val+0(FP), SI
	MOVQ    pos+8(FP), DI
	MOVQ    chunks+16(FP), CX
	MOVQ    x+24(FP), DX
	MOVQ    lane+32(FP), AX
	VMOVDQU (AX), Y8
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1

nmHalf2:
	CMPQ        CX, $2
	JLT         nmHalf1
	VPMOVZXBD   (DI), Y2
	VPMOVZXBD   8(DI), Y9
	VPADDD      Y8, Y2, Y2
	VPADDD      Y8, Y9, Y9
	VPERMPS     (DX), Y2, Y5
	VPERMPS     32(DX), Y2, Y6
	VPERMPS     64(DX), Y9, Y10
	VPERMPS     96(DX), Y9, Y11
	VBLENDPS    $0xF0, Y6, Y5, Y5
	VBLENDPS    $0xF0, Y11, Y10, Y10
	VFMADD231PS (SI), Y5, Y0
	VFMADD231PS 32(SI), Y10, Y1
	ADDQ        $64, SI
	ADDQ        $16, DI
	ADDQ        $128, DX
	SUBQ        $2, CX
	JMP         nmHalf2

nmHalf1:
	TESTQ       CX, CX
	JZ          nmHalfReduce
	VPMOVZXBD   (DI), Y2
	VPADDD      Y8, Y2, Y2
	VPERMPS     (DX), Y2, Y5
	VPERMPS     32(DX), Y2, Y6
	VBLENDPS    $0xF0, Y6, Y5, Y5
	VFMADD231PS (SI), Y5, Y0

nmHalfReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

// func csrRows16AVX2(y *float32, ptr *int32, rows int, val *float32, col *uint16, x *float32)
// y[o] = Σ_{ptr[o] ≤ k < ptr[o+1]} val[k]·x[col[k]] for o < rows: the whole
// batch-1 product of a range of rows in one call, since at high sparsity a
// row has a few dozen nonzeros and a call per row cost as much as the row.
// Sixteen at a time by gathers, the rest in four scalar chains.
TEXT ·csrRows16AVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ ptr+8(FP), R8
	MOVQ rows+16(FP), R9
	MOVQ val+24(FP), R10
	MOVQ col+32(FP), R11
	MOVQ x+40(FP), DX

rowsLoop:
	TESTQ   R9, R9
	JZ      rowsDone
	MOVLQSX (R8), AX
	MOVLQSX 4(R8), CX
	SUBQ    AX, CX
	LEAQ    (R10)(AX*4), SI
	LEAQ    (R11)(AX*2), BX
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1

rows16:
	CMPQ        CX, $16
	JLT         rowsReduce
	VPMOVZXWD   (BX), Y2
	VPMOVZXWD   16(BX), Y3
	VPCMPEQD    Y4, Y4, Y4
	VPCMPEQD    Y5, Y5, Y5
	VGATHERDPS  Y4, (DX)(Y2*4), Y6
	VGATHERDPS  Y5, (DX)(Y3*4), Y7
	VFMADD231PS (SI), Y6, Y0
	VFMADD231PS 32(SI), Y7, Y1
	ADDQ        $64, SI
	ADDQ        $32, BX
	SUBQ        $16, CX
	JMP         rows16

rowsReduce:
	VADDPS Y1, Y0, Y0
	HSUM_Y0
	VXORPS X2, X2, X2
	VXORPS X3, X3, X3
	VXORPS X12, X12, X12
	VXORPS X13, X13, X13

rows4:
	CMPQ        CX, $4
	JLT         rows1
	MOVWLZX     (BX), AX
	MOVWLZX     2(BX), R12
	MOVWLZX     4(BX), R13
	MOVWLZX     6(BX), R14
	VMOVSS      (DX)(AX*4), X4
	VMOVSS      (DX)(R12*4), X5
	VMOVSS      (DX)(R13*4), X6
	VMOVSS      (DX)(R14*4), X7
	VFMADD231SS (SI), X4, X2
	VFMADD231SS 4(SI), X5, X3
	VFMADD231SS 8(SI), X6, X12
	VFMADD231SS 12(SI), X7, X13
	ADDQ        $16, SI
	ADDQ        $8, BX
	SUBQ        $4, CX
	JMP         rows4

rows1:
	TESTQ       CX, CX
	JZ          rowsStore
	MOVWLZX     (BX), AX
	VMOVSS      (DX)(AX*4), X4
	VFMADD231SS (SI), X4, X2
	ADDQ        $4, SI
	ADDQ        $2, BX
	DECQ        CX
	JMP         rows1

rowsStore:
	VADDSS X3, X2, X2
	VADDSS X13, X12, X12
	VADDSS X12, X2, X2
	VADDSS X2, X0, X0
	MOVSS  X0, (DI)
	ADDQ   $4, DI
	ADDQ   $4, R8
	DECQ   R9
	JMP    rowsLoop

rowsDone:
	VZEROUPPER
	RET

// func bsr4x4DotAVX2(val *float32, bcol *int32, nb int, x *float32, y *[4]float32)
// y[r] = Σ_k Σ_c val[16k+4r+c]·x[bcol[k]+c] over nb full 4×4 blocks: x's
// four inputs broadcast to both halves of Y2, rows 0–1 accumulate in Y0
// (Y6 for odd blocks), rows 2–3 in Y1 (Y7).
TEXT ·bsr4x4DotAVX2(SB), NOSPLIT, $0-40
	MOVQ   val+0(FP), SI
	MOVQ   bcol+8(FP), DI
	MOVQ   nb+16(FP), CX
	MOVQ   x+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

b44w2:
	CMPQ           CX, $2
	JLT            b44w1
	MOVL           (DI), AX
	MOVL           4(DI), BX
	VBROADCASTF128 (DX)(AX*4), Y2
	VBROADCASTF128 (DX)(BX*4), Y3
	VFMADD231PS    (SI), Y2, Y0
	VFMADD231PS    32(SI), Y2, Y1
	VFMADD231PS    64(SI), Y3, Y6
	VFMADD231PS    96(SI), Y3, Y7
	ADDQ           $128, SI
	ADDQ           $8, DI
	SUBQ           $2, CX
	JMP            b44w2

b44w1:
	TESTQ          CX, CX
	JZ             b44Reduce
	MOVL           (DI), AX
	VBROADCASTF128 (DX)(AX*4), Y2
	VFMADD231PS    (SI), Y2, Y0
	VFMADD231PS    32(SI), Y2, Y1

// Y0 = [row 0 | row 1], Y1 = [row 2 | row 3] (four partial sums each).
b44Reduce:
	VADDPS       Y6, Y0, Y0
	VADDPS       Y7, Y1, Y1
	VHADDPS      Y1, Y0, Y3
	VHADDPS      Y3, Y3, Y3
	VEXTRACTF128 $1, Y3, X4
	VUNPCKLPS    X4, X3, X5
	MOVQ         y+32(FP), AX
	VMOVUPS      X5, (AX)
	VZEROUPPER
	RET
